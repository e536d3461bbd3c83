"""Custom fields (issue 18): the definitions, and the values on incidents and changes.

- ``custom_field_definitions``: per record type, each field's name, label, type, rules and
  audience; retired fields keep their values.
- ``incidents.custom_fields`` and ``changes.custom_fields``: JSONB objects (name → value), with a
  GIN index (jsonb_path_ops: containment, which every equality filter is).
- Incidents' generated ``search_vector`` also holds the words of the string values (weight C),
  so that q= finds them through the index it already has.

Revision ID: 0022_custom_fields
Revises: 0021_record_escalations
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022_custom_fields"
down_revision: str | None = "0021_record_escalations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"

INCIDENT_SEARCH = (
    "setweight(to_tsvector('english'::regconfig, coalesce(number, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')"
)
CUSTOM_SEARCH = (
    " || setweight(jsonb_to_tsvector('english'::regconfig, custom_fields, '[\"string\"]'::jsonb),"
    " 'C')"
)


def _search_vector(expression: str) -> None:
    op.drop_index("ix_incidents_search_vector", table_name="incidents", schema=S)
    op.drop_column("incidents", "search_vector", schema=S)
    op.add_column(
        "incidents",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(expression, persisted=True),
            nullable=False,
        ),
        schema=S,
    )
    op.create_index(
        "ix_incidents_search_vector",
        "incidents",
        ["search_vector"],
        unique=False,
        schema=S,
        postgresql_using="gin",
    )


def upgrade() -> None:
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("default", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "allowed_values",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("help_text", sa.Text(), nullable=True),
        sa.Column("requester_visible", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("requester_settable", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("position", sa.Integer(), server_default="100", nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "record_type in ('incident', 'change')",
            name=op.f("ck_custom_field_definitions_known_record_type"),
        ),
        sa.CheckConstraint(
            "type in ('text', 'long_text', 'number', 'decimal', 'date', 'datetime', 'boolean', "
            "'choice', 'multi_choice', 'user', 'team', 'ci')",
            name=op.f("ck_custom_field_definitions_known_type"),
        ),
        sa.CheckConstraint(
            "name ~ '^[a-z][a-z0-9_]{0,62}$'", name=op.f("ck_custom_field_definitions_name_format")
        ),
        sa.CheckConstraint(
            "requester_visible or not requester_settable",
            name=op.f("ck_custom_field_definitions_settable_is_visible"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint(
            "record_type", "name", name=op.f("uq_custom_field_definitions_record_type_name")
        ),
        schema=S,
    )
    for table in ("incidents", "changes"):
        op.add_column(
            table,
            sa.Column(
                "custom_fields",
                postgresql.JSONB(astext_type=sa.Text()),
                server_default="{}",
                nullable=False,
            ),
            schema=S,
        )
        op.create_check_constraint(
            op.f(f"ck_{table}_custom_fields_object"),
            table,
            "jsonb_typeof(custom_fields) = 'object'",
            schema=S,
        )
        op.create_index(
            f"ix_{table}_custom_fields",
            table,
            ["custom_fields"],
            unique=False,
            schema=S,
            postgresql_using="gin",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
        )
    _search_vector(INCIDENT_SEARCH + CUSTOM_SEARCH)


def downgrade() -> None:
    _search_vector(INCIDENT_SEARCH)
    for table in ("incidents", "changes"):
        op.drop_index(f"ix_{table}_custom_fields", table_name=table, schema=S)
        op.drop_constraint(op.f(f"ck_{table}_custom_fields_object"), table, schema=S, type_="check")
        op.drop_column(table, "custom_fields", schema=S)
    op.drop_table("custom_field_definitions", schema=S)
