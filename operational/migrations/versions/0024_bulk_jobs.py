"""Bulk updates of incidents and changes (issue 18): one row per job, one per record it names.

- ``bulk_jobs``: who started it (it runs with their permissions), the update as sent, status
  (queued, running, done, failed) and the counters of its progress.
- ``bulk_job_items``: the records in the order named, each with its outcome once processed
  (updated, skipped with a reason, failed with its problem+json); a background job resumes at
  the first record without one.

Revision ID: 0024_bulk_jobs
Revises: 0022_custom_fields
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024_bulk_jobs"
down_revision: str | None = "0022_custom_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("background", sa.Boolean(), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "record_type in ('incident', 'change')", name=op.f("ck_bulk_jobs_record_type")
        ),
        sa.CheckConstraint(
            "status in ('queued', 'running', 'done', 'failed')", name=op.f("ck_bulk_jobs_status")
        ),
        sa.CheckConstraint(
            "processed = updated + skipped + failed", name=op.f("ck_bulk_jobs_counts_add_up")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["operational.users.id"], name=op.f("fk_bulk_jobs_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_bulk_jobs_actor_id"), "bulk_jobs", ["actor_id"], unique=False, schema=SCHEMA
    )
    op.create_index(
        "ix_bulk_jobs_unfinished",
        "bulk_jobs",
        ["id"],
        unique=False,
        schema=SCHEMA,
        postgresql_where=sa.text("status in ('queued', 'running')"),
    )
    op.create_table(
        "bulk_job_items",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("expected_version", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.BigInteger(), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("problem", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome is null or outcome in ('updated', 'skipped', 'failed')",
            name=op.f("ck_bulk_job_items_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["operational.bulk_jobs.id"],
            name=op.f("fk_bulk_job_items_job_id_bulk_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "position", name=op.f("pk_bulk_job_items")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_bulk_job_items_job_id_record_id",
        "bulk_job_items",
        ["job_id", "record_id"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("bulk_job_items", schema=SCHEMA)
    op.drop_table("bulk_jobs", schema=SCHEMA)
