"""Import runs: one row per file imported (or dry-run) through `ingest`."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.db import Base

IMPORT_STATUSES = ("running", "succeeded", "failed")


class ImportRun(Base):
    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))  # servicenow-audit, jira, generic, ...
    source_system: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    loaded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Per entity: {"incidents": {"loaded": n, "updated": n, "unchanged": n}, "events": ...}
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    batches_committed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejects_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # The process that runs the import: a run still "running" whose process is gone (killed) is
    # marked failed when the next run starts (ingest/loader/orchestration.py).
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    # Per field, how many imported tickets the replay of the history and the source agree on,
    # and the largest differences (ingest/reconcile.py).
    reconciliation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(
            "status in (" + ", ".join(f"'{status}'" for status in IMPORT_STATUSES) + ")",
            name="known_status",
        ),
        Index("ix_import_runs_started_at", "started_at"),
    )


class IncidentSourceFigures(Base):
    """What the source system itself says of an imported incident, beside the replay of its
    history: its own resolution and closure times and counters, and how complete the exported
    history is. Written by the import only (ingest/loader); read by the marts."""

    __tablename__ = "incident_source_figures"

    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("operational.incidents.id", ondelete="CASCADE"), primary_key=True
    )
    source_system: Mapped[str] = mapped_column(String(64))
    source_resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_reassignment_count: Mapped[int | None] = mapped_column(Integer)
    source_reopen_count: Mapped[int | None] = mapped_column(Integer)
    # Resolved or closed in the first exported record, with no resolution time in the source.
    resolution_time_unknown: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="false"
    )
    # Updates the source made that the export lacks; null where the source has no sequence.
    missing_updates: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
