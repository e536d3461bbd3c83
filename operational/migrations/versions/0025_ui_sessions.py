"""The web UI's browser sessions and saved filters (docs/ui.md).

Revision ID: 0025_ui_sessions
Revises: 0023_automation_rules
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_ui_sessions"
down_revision: str | None = "0023_automation_rules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operational.users.id"],
            name=op.f("fk_ui_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ui_sessions")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_ui_sessions_user_id"), "ui_sessions", ["user_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        op.f("ix_ui_sessions_last_seen_at"),
        "ui_sessions",
        ["last_seen_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "ui_saved_filters",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operational.users.id"],
            name=op.f("fk_ui_saved_filters_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "name", name=op.f("pk_ui_saved_filters")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("ui_saved_filters", schema=SCHEMA)
    op.drop_index(op.f("ix_ui_sessions_last_seen_at"), table_name="ui_sessions", schema=SCHEMA)
    op.drop_index(op.f("ix_ui_sessions_user_id"), table_name="ui_sessions", schema=SCHEMA)
    op.drop_table("ui_sessions", schema=SCHEMA)
