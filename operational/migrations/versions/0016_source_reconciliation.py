"""Numbers that agree with the source system (issue 13): what the source says of each imported
incident beside the replay of its history, and the reconciliation figures of each import run.

- ``incident_source_figures``: one row per imported incident: the source's own resolution and
  closure times and reassignment and reopen counters, whether its resolution time is unknown
  (resolved in the first exported record, no resolution time), and how many of the source's
  updates the export lacks (sys_mod_count gaps, a Jira changelog cut short).
- ``import_runs.reconciliation``: per field, how many tickets replay and source agree on, and
  the largest differences.

Revision ID: 0016_source_reconciliation
Revises: 0010_hardening
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_source_reconciliation"
down_revision: str | None = "0019_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"


def upgrade() -> None:
    op.create_table(
        "incident_source_figures",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_reassignment_count", sa.Integer(), nullable=True),
        sa.Column("source_reopen_count", sa.Integer(), nullable=True),
        sa.Column("resolution_time_unknown", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("missing_updates", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_incident_source_figures_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_source_figures")),
        schema=SCHEMA,
    )
    op.add_column(
        "import_runs",
        sa.Column("reconciliation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("import_runs", "reconciliation", schema=SCHEMA)
    op.drop_table("incident_source_figures", schema=SCHEMA)
