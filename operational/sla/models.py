"""Calendars, policies, timers, alerts and escalations of the SLA engine (docs/sla.md)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.core.db import Base, sql_values
from operational.sla.enums import EscalationAction, RecordType, TimerState, TimerTarget

# The incident an alert, escalation or notification is about, when it is about one: derived from
# (record_type, record_id), so that incidents keep their foreign key (and its cascade) and every
# query by incident_id keeps working.
_INCIDENT_OF_RECORD = "case when record_type = 'incident' then record_id end"


def _record_type_column() -> Mapped[str]:
    return mapped_column(
        String(32), default=RecordType.incident.value, server_default=RecordType.incident.value
    )


def _incident_of_record_column() -> Mapped[int | None]:
    return mapped_column(
        BigInteger,
        Computed(_INCIDENT_OF_RECORD, persisted=True),
        ForeignKey("incidents.id", ondelete="CASCADE"),
    )


def _known_record_type() -> CheckConstraint:
    return CheckConstraint(f"record_type in ({sql_values(RecordType)})", name="known_record_type")


class SlaCalendar(Base):
    """Working hours per weekday in a time zone, minus holidays; converted to BusinessCalendar."""

    __tablename__ = "sla_calendars"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))
    # {"monday": ["09:00-17:00"], ...}; a missing or empty day has no working time.
    weekly_hours: Mapped[dict[str, list[str]]] = mapped_column(JSONB)
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))
    added_holidays: Mapped[list[date]] = mapped_column(
        ARRAY(Date), default=list, server_default="{}"
    )
    removed_holidays: Mapped[list[date]] = mapped_column(
        ARRAY(Date), default=list, server_default="{}"
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class SlaPolicy(Base):
    """Targets in business minutes for incidents matching priority, service and/or category.

    A criterion left null matches anything; among matching active policies the most specific
    wins: naming the service beats naming the category, which beats naming the priority.
    """

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    priority: Mapped[int | None] = mapped_column(SmallInteger)
    service: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(120))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("sla_calendars.id"), index=True)
    response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    # [{"state": "on_hold", "hold_reason": "awaiting_caller"}]; a null hold_reason: any reason.
    pause_on: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    warning_thresholds: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    calendar: Mapped[SlaCalendar] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("priority is null or priority between 1 and 5", name="priority_range"),
        CheckConstraint("response_minutes > 0", name="response_positive"),
        CheckConstraint("resolution_minutes > 0", name="resolution_positive"),
    )


class SlaTimer(Base):
    """One target (response or resolution) of one incident, as last recomputed.

    Everything here is derived by replaying the incident's event log (operational.sla.timeline);
    ``computed_at`` is the instant the numbers hold for. ``next_alert_at`` is when the next
    warning or the breach falls due while the clock runs: the worker's scan index.
    """

    __tablename__ = "sla_timers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(16))
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id"), index=True)
    target_minutes: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Null while the clock is paused: the deadline moves until it runs again.
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    elapsed_minutes: Mapped[float] = mapped_column(Float)
    paused_minutes: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    # When the timer stopped for good: met or breached at resolution, or cancelled.
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warnings_fired: Mapped[list[int]] = mapped_column(
        ARRAY(SmallInteger), default=list, server_default="{}"
    )
    next_alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Why the timer could not be computed (state "error"): its policy's calendar cannot be used.
    error: Mapped[str | None] = mapped_column(Text)

    policy: Mapped[SlaPolicy] = relationship(lazy="joined")

    @property
    def policy_name(self) -> str:
        return self.policy.name

    __table_args__ = (
        UniqueConstraint("incident_id", "target"),
        CheckConstraint(f"target in ({sql_values(TimerTarget)})", name="known_target"),
        CheckConstraint(f"state in ({sql_values(TimerState)})", name="known_state"),
        Index("ix_sla_timers_next_alert_at", "next_alert_at"),
        Index("ix_sla_timers_state_due_at", "state", "due_at"),
    )


class SlaAlert(Base):
    """A warning threshold or the breach (threshold 100) crossed by a timer, or a request
    approval's reminder period run out (threshold 100, no timer), recorded once.

    The unique keys make a second recording impossible, whichever process tries. ``escalated_at``
    is set once the escalation rules have been run for it (at once for imported history).
    """

    __tablename__ = "sla_alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    timer_id: Mapped[int | None] = mapped_column(ForeignKey("sla_timers.id", ondelete="CASCADE"))
    record_type: Mapped[str] = _record_type_column()
    record_id: Mapped[int] = mapped_column(BigInteger)
    incident_id: Mapped[int | None] = _incident_of_record_column()
    target_minutes: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(SmallInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("timer_id", "target_minutes", "threshold"),
        # Alerts without a timer (a request approval's reminder): once per record and period.
        Index(
            "uq_sla_alerts_untimed",
            "record_type",
            "record_id",
            "target_minutes",
            "threshold",
            unique=True,
            postgresql_where=text("timer_id IS NULL"),
        ),
        CheckConstraint("threshold between 1 and 100", name="threshold_range"),
        _known_record_type(),
        Index(
            "ix_sla_alerts_pending",
            "incident_id",
            postgresql_where=text("escalated_at IS NULL"),
        ),
    )


class SlaEscalationRule(Base):
    """When a timer has used ``threshold`` percent of its target (100: breached), do ``action``.

    ``record_type`` says which records the rule is for: incidents (the default), or request
    approvals, whose alert is the reminder and whose rule fires ``delay_minutes`` business minutes
    later (docs/requests.md)."""

    __tablename__ = "sla_escalation_rules"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    record_type: Mapped[str] = _record_type_column()
    threshold: Mapped[int] = mapped_column(SmallInteger)
    # Business minutes after the alert before the rule fires (request approvals; null: at once).
    delay_minutes: Mapped[int | None] = mapped_column(Integer)
    # Optional filters: null matches any.
    target: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[int | None] = mapped_column(SmallInteger)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id"))
    action: Mapped[str] = mapped_column(String(32))
    # reassign: the team to move to; notify: the team to tell (default: the assignment group).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    # raise_priority: the priority to raise to; null raises one level.
    raise_to_priority: Mapped[int | None] = mapped_column(SmallInteger)
    # escalate: who decides in the approver's place (null: the approver's manager); notify: who
    # to tell.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint("threshold between 1 and 100", name="threshold_range"),
        CheckConstraint(
            f"target is null or target in ({sql_values(TimerTarget)})", name="known_target"
        ),
        CheckConstraint(f"action in ({sql_values(EscalationAction)})", name="known_action"),
        CheckConstraint("priority is null or priority between 1 and 5", name="priority_range"),
        CheckConstraint(
            "raise_to_priority is null or raise_to_priority between 1 and 5",
            name="raise_to_priority_range",
        ),
        CheckConstraint("action <> 'reassign' or team_id is not null", name="reassign_has_team"),
        CheckConstraint("delay_minutes is null or delay_minutes >= 0", name="delay_not_negative"),
        _known_record_type(),
    )


class SlaEscalation(Base):
    """An escalation rule that fired for a timer: at most once per (timer, rule); for a record
    without timers (a request approval), at most once per (record, rule)."""

    __tablename__ = "sla_escalations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("sla_escalation_rules.id"), index=True)
    timer_id: Mapped[int | None] = mapped_column(ForeignKey("sla_timers.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("sla_alerts.id", ondelete="CASCADE"))
    record_type: Mapped[str] = _record_type_column()
    record_id: Mapped[int] = mapped_column(BigInteger)
    incident_id: Mapped[int | None] = _incident_of_record_column()
    action: Mapped[str] = mapped_column(String(32))
    # done, skipped (nothing to do) or failed (the action was refused; see detail).
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("timer_id", "rule_id"),
        Index(
            "uq_sla_escalations_untimed",
            "record_type",
            "record_id",
            "rule_id",
            unique=True,
            postgresql_where=text("timer_id IS NULL"),
        ),
        Index("ix_sla_escalations_incident_id", "incident_id"),
        Index("ix_sla_escalations_record", "record_type", "record_id"),
        _known_record_type(),
    )


class SlaNotification(Base):
    """A notification an escalation asked for, handed to the notifications outbox
    (``delivered_at``), which delivers it."""

    __tablename__ = "sla_notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("sla_escalations.id", ondelete="CASCADE"), unique=True
    )
    record_type: Mapped[str] = _record_type_column()
    record_id: Mapped[int] = mapped_column(BigInteger)
    incident_id: Mapped[int | None] = _incident_of_record_column()
    recipient_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_sla_notifications_incident_id", "incident_id"),
        Index("ix_sla_notifications_record", "record_type", "record_id"),
        _known_record_type(),
    )


class SlaCalendarVersion(Base):
    """One version of a calendar's content, in force from ``valid_from`` until ``valid_to``.

    Written by ``operational.sla.versions`` whenever the calendar is created or its content
    changes; the calendar row holds the version in force now. A null ``valid_from`` is "since
    the beginning" (calendars that existed before versions were kept); a null ``valid_to`` is
    the version in force now.
    """

    __tablename__ = "sla_calendar_versions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("sla_calendars.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    weekly_hours: Mapped[dict[str, list[str]]] = mapped_column(JSONB)
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))
    added_holidays: Mapped[list[date]] = mapped_column(
        ARRAY(Date), default=list, server_default="{}"
    )
    removed_holidays: Mapped[list[date]] = mapped_column(
        ARRAY(Date), default=list, server_default="{}"
    )

    __table_args__ = (
        UniqueConstraint("calendar_id", "version"),
        CheckConstraint(
            "valid_to is null or valid_from is null or valid_from <= valid_to", name="valid_period"
        ),
        Index(
            "ix_sla_calendar_versions_current",
            "calendar_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
    )


class SlaPolicyVersion(Base):
    """One version of a policy (its criteria, calendar, targets and pause rules), in force from
    ``valid_from`` until ``valid_to``; nulls as for SlaCalendarVersion. ``calendar_id`` names the
    calendar, whose own version in force at an instant gives the working hours then."""

    __tablename__ = "sla_policy_versions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policies.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean)
    priority: Mapped[int | None] = mapped_column(SmallInteger)
    service: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(120))
    # No foreign key: history outlives a calendar deleted since (then that version has no
    # calendar, and its timers say so).
    calendar_id: Mapped[int] = mapped_column(BigInteger)
    response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    pause_on: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    warning_thresholds: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))

    __table_args__ = (
        UniqueConstraint("policy_id", "version"),
        CheckConstraint(
            "valid_to is null or valid_from is null or valid_from <= valid_to", name="valid_period"
        ),
        Index(
            "ix_sla_policy_versions_current",
            "policy_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
    )
