from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.db import Base, sql_values
from operational.customfields.enums import FieldType, RecordType

# A field's name, as it appears in the values object, the list filters (cf.<name>) and events.
NAME_PATTERN = "^[a-z][a-z0-9_]{0,62}$"


class CustomFieldDefinition(Base):
    """One custom field of a record type: the schema of the values in that record's
    ``custom_fields`` JSONB column. Retired fields keep their values but can no longer be set."""

    __tablename__ = "custom_field_definitions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(63))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Stored as the value itself would be (JSON), validated against the type when defined.
    default: Mapped[Any | None] = mapped_column(JSONB)
    allowed_values: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    help_text: Mapped[str | None] = mapped_column(Text)
    requester_visible: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    requester_settable: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    position: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        # A name is never reused for another field of the record type, retired or not: the
        # values already stored under it keep their meaning.
        UniqueConstraint("record_type", "name"),
        CheckConstraint(f"record_type in ({sql_values(RecordType)})", name="known_record_type"),
        CheckConstraint(f"type in ({sql_values(FieldType)})", name="known_type"),
        CheckConstraint(f"name ~ '{NAME_PATTERN}'", name="name_format"),
        CheckConstraint("requester_visible or not requester_settable", name="settable_is_visible"),
    )


def custom_fields_object() -> CheckConstraint:
    """The check every record's ``custom_fields`` column carries: an object, name → value."""
    return CheckConstraint("jsonb_typeof(custom_fields) = 'object'", name="custom_fields_object")


def search_expression(config: str, column: str = "custom_fields") -> str:
    """The words of the string values (text, long text, choices) as a tsvector, in SQL: what a
    record's generated search vector adds for its custom fields."""
    return f"jsonb_to_tsvector('{config}'::regconfig, {column}, '[\"string\"]'::jsonb)"


def custom_fields_search_index(table: str, config: str) -> Index:
    """The GIN index over the words of a record type's custom fields (``search_expression``):
    a search for "the record's own words OR its custom fields' words" needs one on each side to
    read its matches rather than the whole table (problems, changes)."""
    return Index(
        f"ix_{table}_custom_fields_search",
        text(search_expression(config)),
        postgresql_using="gin",
    )
