"""Configuration items, their classes and their relationships.

A CI's history is in the event log (entity 'ci'); relationship changes are recorded there too,
on both CIs.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.auth.models import Team
from operational.cmdb.enums import CIStatus, Environment, RelationshipType
from operational.core.db import Base, sql_values


class CIClass(Base):
    """A kind of CI. ``attribute_schema`` (JSON Schema) validates the attributes of its CIs,
    so a class gains fields without a migration."""

    __tablename__ = "ci_classes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    attribute_schema: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ConfigurationItem(Base):
    __tablename__ = "configuration_items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    class_id: Mapped[int] = mapped_column(ForeignKey("ci_classes.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(32), default=CIStatus.in_service.value, server_default=CIStatus.in_service.value
    )
    environment: Mapped[str] = mapped_column(
        String(32),
        default=Environment.production.value,
        server_default=Environment.production.value,
    )
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    location: Mapped[str | None] = mapped_column(String(200))
    criticality: Mapped[int] = mapped_column(SmallInteger, default=3, server_default="3")
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )

    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Optimistic concurrency: updates must name the version they read (If-Match), else 412.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    ci_class: Mapped[CIClass] = relationship(lazy="joined", innerjoin=True)
    owner_team: Mapped[Team | None] = relationship(lazy="joined")

    __table_args__ = (
        # A name may recur across classes ("crm" the app, "crm" the business service) and
        # environments, never within both.
        UniqueConstraint("class_id", "name", "environment"),
        UniqueConstraint("source_system", "external_id"),
        CheckConstraint(f"status in ({sql_values(CIStatus)})", name="known_status"),
        CheckConstraint(f"environment in ({sql_values(Environment)})", name="known_environment"),
        CheckConstraint("criticality between 1 and 4", name="criticality_range"),
        Index("ix_configuration_items_lower_name", func.lower(name)),
        Index(
            "ix_configuration_items_attributes",
            attributes,
            postgresql_using="gin",
            postgresql_ops={"attributes": "jsonb_path_ops"},
        ),
    )


class CIRelationship(Base):
    """``source <type> target``, e.g. crm-app depends_on crm-db."""

    __tablename__ = "ci_relationships"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_ci_id: Mapped[int] = mapped_column(
        ForeignKey("configuration_items.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(32))
    target_ci_id: Mapped[int] = mapped_column(
        ForeignKey("configuration_items.id", ondelete="CASCADE")
    )
    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    source: Mapped[ConfigurationItem] = relationship(foreign_keys=[source_ci_id], lazy="joined")
    target: Mapped[ConfigurationItem] = relationship(foreign_keys=[target_ci_id], lazy="joined")

    __table_args__ = (
        # Also serves the walk from a source CI.
        UniqueConstraint("source_ci_id", "type", "target_ci_id"),
        Index("ix_ci_relationships_target_ci_id_type", "target_ci_id", "type"),
        CheckConstraint(f"type in ({sql_values(RelationshipType)})", name="known_type"),
        CheckConstraint("source_ci_id <> target_ci_id", name="not_self"),
    )
