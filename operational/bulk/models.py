"""Bulk jobs: one row per bulk update, and one row per record it names, which holds the
record's outcome once processed (the job's results, and what a resumed job still has to do)."""

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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from operational.bulk.enums import JobStatus, Outcome, RecordType
from operational.core.db import Base, sql_values


class BulkJob(Base):
    __tablename__ = "bulk_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    record_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # Whose job it is: it runs with this user's permissions, checked again for every record.
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    background: Mapped[bool] = mapped_column(Boolean)
    # The update as the caller sent it (update, comment, and the ids or filter).
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    total: Mapped[int] = mapped_column(Integer)
    processed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A running job's worker touches this after every chunk; a stale one is taken over.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"record_type in ({sql_values(RecordType)})", name="record_type"),
        CheckConstraint(f"status in ({sql_values(JobStatus)})", name="status"),
        CheckConstraint("processed = updated + skipped + failed", name="counts_add_up"),
        Index(
            "ix_bulk_jobs_unfinished",
            "id",
            postgresql_where=text("status in ('queued', 'running')"),
        ),
    )


class BulkJobItem(Base):
    """One record a job names, in the order given; ``outcome`` is null until processed."""

    __tablename__ = "bulk_job_items"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("bulk_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    # As the caller named it: an id, or an incident number.
    reference: Mapped[str] = mapped_column(String(64))
    expected_version: Mapped[int | None] = mapped_column(Integer)
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    number: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # The failure as problem+json (RFC 9457), as a single request would have answered it.
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    version: Mapped[int | None] = mapped_column(Integer)  # the record's version afterwards
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"outcome is null or outcome in ({sql_values(Outcome)})", name="outcome"),
        Index("ix_bulk_job_items_job_id_record_id", "job_id", "record_id"),
    )
