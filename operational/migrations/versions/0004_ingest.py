"""Tables of ingestion (import runs).

Revision ID: 0004_ingest
Revises: 0003_cmdb_changes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_ingest"
down_revision: str | None = "0003_cmdb_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("dry_run", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="running", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_read", sa.Integer(), server_default="0", nullable=False),
        sa.Column("loaded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "counts", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("batches_committed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejects_path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status in ('running', 'succeeded', 'failed')", name=op.f("ck_import_runs_known_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
        schema="operational",
    )
    op.create_index(
        "ix_import_runs_started_at",
        "import_runs",
        ["started_at"],
        unique=False,
        schema="operational",
    )


def downgrade() -> None:
    op.drop_index("ix_import_runs_started_at", table_name="import_runs", schema="operational")
    op.drop_table("import_runs", schema="operational")
