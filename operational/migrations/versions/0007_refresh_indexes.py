"""BRIN indexes for the marts' incremental refresh: events by occurred_at, incidents by created_at.

The audit-trail summary (dbt, marts.audit_trail_summary) recounts each day on which new events
occurred. Without an index on occurred_at that meant reading the whole log on every refresh. An
append-only log is written roughly in time order, so a BRIN index finds a day's blocks at almost
no cost to writes; where an import is not in time order it reads more blocks, never fewer. Small
ranges (16 pages) keep a day's lookup tight: 0.9 MB of index for 16 million events.

Incidents are inserted in created_at order; the incremental models that must also rebuild new
incidents without lifecycle events find them through a BRIN index on created_at instead of
reading the whole table.

Revision ID: 0007_refresh_indexes
Revises: 0006_analytics
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_refresh_indexes"
down_revision: str | None = "0006_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_events_occurred_at",
        "events",
        ["occurred_at"],
        unique=False,
        schema="operational",
        postgresql_using="brin",
        postgresql_with={"pages_per_range": 16},
    )

    op.create_index(
        "ix_incidents_created_at",
        "incidents",
        ["created_at"],
        unique=False,
        schema="operational",
        postgresql_using="brin",
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_created_at", table_name="incidents", schema="operational")
    op.drop_index("ix_events_occurred_at", table_name="events", schema="operational")
