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
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from operational.automation.enums import ManagedBy, RecordType, RunOutcome, TriggerKind
from operational.core.db import Base, sql_values


class AutomationRule(Base):
    """One rule: on ``trigger`` for a record of ``record_type`` whose ``conditions`` hold, run
    ``actions`` in order. Rules run by ``position`` (then id); ``stop_processing`` ends the run
    after this rule fires. ``conditions`` and ``actions`` are the JSON of
    ``schemas.Condition`` and ``schemas.Action`` (validated on every write)."""

    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    record_type: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    trigger: Mapped[str] = mapped_column(String(32))
    every_minutes: Mapped[int | None] = mapped_column(Integer)
    conditions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    stop_processing: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # The API that owns the rule when it is not the automation API (``ManagedBy``): the
    # assignment-rule API's rules are route rules that it alone changes.
    managed_by: Mapped[str | None] = mapped_column(String(32))
    # When the worker last ran this scheduled rule (None: never).
    last_scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"record_type in ({sql_values(RecordType)})", name="known_record_type"),
        CheckConstraint(f"trigger in ({sql_values(TriggerKind)})", name="known_trigger"),
        CheckConstraint(
            "(trigger = 'schedule') = (every_minutes is not null)", name="schedule_has_interval"
        ),
        CheckConstraint("every_minutes is null or every_minutes >= 5", name="sane_interval"),
        CheckConstraint(
            f"managed_by is null or managed_by in ({sql_values(ManagedBy)})", name="known_manager"
        ),
        Index("ix_automation_rules_lookup", "record_type", "trigger", "is_active", "position"),
    )


class AutomationRun(Base):
    """One time a rule fired, failed or was cut from a chain, on one record: appended, never
    updated, so that busy rules never make transactions wait on a counter row. A rule's counters
    (times fired, failures, last fired) are read from here."""

    __tablename__ = "automation_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(BigInteger)
    trigger: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"outcome in ({sql_values(RunOutcome)})", name="known_outcome"),
        Index("ix_automation_runs_rule", "rule_id", "outcome", "occurred_at"),
    )
