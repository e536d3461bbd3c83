from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.db import Base


class Event(Base):
    """The append-only log of every change to every record: the analytic truth.

    A database trigger refuses UPDATE, DELETE and TRUNCATE (migration 0001_foundation).
    ``seq`` orders events within one record (entity_type, entity_id), starting at 1.
    Each record's events form a hash chain (operational/events/chain.py): ``hash`` is the
    SHA-256 of the event's canonical serialization, which includes ``prev_hash``, the hash of
    the record's event ``seq - 1`` (null for seq 1). Only the events service computes them.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(48))
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    source_system: Mapped[str] = mapped_column(
        String(64), default="native", server_default="native"
    )
    synthesized: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    # Only the per-record key is a B-tree: every query reads one record's log, or (dbt) the
    # whole log. Each further B-tree costs every write, imports of millions of events above all.
    __table_args__ = (
        UniqueConstraint("entity_type", "entity_id", "seq"),
        # BRIN: near free to maintain on an append-only log written roughly in time order. dbt's
        # incremental models read the events recorded since their last run through the first,
        # and the audit-trail summary recounts the days new events occurred on through the second.
        Index("ix_events_recorded_at", "recorded_at", postgresql_using="brin"),
        Index(
            "ix_events_occurred_at",
            "occurred_at",
            postgresql_using="brin",
            postgresql_with={"pages_per_range": 16},
        ),
    )
