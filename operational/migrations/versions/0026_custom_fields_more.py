"""Custom fields on problems and requests (issue 18): the record types ``problem`` and
``request`` for definitions, and a ``custom_fields`` JSONB object on ``problems`` and
``requests`` with a GIN index (jsonb_path_ops), as incidents and changes have.

Revision ID: 0026_custom_fields_more
Revises: 0025_ui_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026_custom_fields_more"
down_revision: str | None = "0025_ui_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"
TABLES = ("problems", "requests")
CHECK = "ck_custom_field_definitions_known_record_type"


def _record_types(values: str) -> None:
    op.drop_constraint(op.f(CHECK), "custom_field_definitions", schema=S, type_="check")
    op.create_check_constraint(
        op.f(CHECK), "custom_field_definitions", f"record_type in ({values})", schema=S
    )


def upgrade() -> None:
    _record_types("'incident', 'change', 'problem', 'request'")
    for table in TABLES:
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


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_custom_fields", table_name=table, schema=S)
        op.drop_constraint(op.f(f"ck_{table}_custom_fields_object"), table, schema=S, type_="check")
        op.drop_column(table, "custom_fields", schema=S)
    op.execute(
        "delete from operational.custom_field_definitions "
        "where record_type in ('problem', 'request')"
    )
    _record_types("'incident', 'change'")
