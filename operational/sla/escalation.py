"""SLA escalation: which rules fire for a record's alerts (an incident's warnings and breaches,
a request approval's reminder), each claimed once, and the record of what was done.

Alerts, rules, escalations and notifications name their record by type and id (``RecordType``).
The loops that run the rules, and the actions that change the record itself, belong to the
record's own flows (``operational.incidents.flows.escalate_sla``,
``operational.requests.flows.chase_approval``): this module only decides, claims and records,
and writes the notifications that are its own.
"""

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events_service
from operational.events.enums import EntityType, EventKind
from operational.sla.enums import BREACH_THRESHOLD, RecordType, TimerState
from operational.sla.models import (
    SlaAlert,
    SlaEscalation,
    SlaEscalationRule,
    SlaNotification,
    SlaTimer,
)
from operational.sla.timers import SLA_ACTOR_LABEL

Outcome = tuple[str, dict[str, Any]]  # ("done" | "skipped" | "failed", detail)


class EscalatedRecord(Protocol):
    """What escalation reads of an incident (the incident flows pass the ORM object)."""

    id: int
    number: str
    title: str
    priority: int
    assignment_group_id: int | None
    assignee_id: int | None


def pending_alerts(*, session: Session, incident_id: int) -> list[SlaAlert]:
    """The incident's warnings and breaches not escalated yet, in the order they happened."""
    return list(
        session.scalars(
            select(SlaAlert)
            .where(SlaAlert.incident_id == incident_id, SlaAlert.escalated_at.is_(None))
            .order_by(SlaAlert.occurred_at, SlaAlert.threshold, SlaAlert.id)
            .execution_options(populate_existing=True)
        ).all()
    )


def active_rules(
    *, session: Session, record_type: RecordType = RecordType.incident
) -> list[SlaEscalationRule]:
    """The active rules for one record type."""
    return list(
        session.scalars(
            select(SlaEscalationRule)
            .where(SlaEscalationRule.is_active, SlaEscalationRule.record_type == record_type)
            .order_by(SlaEscalationRule.threshold, SlaEscalationRule.id)
        ).all()
    )


def record_alert(
    *,
    session: Session,
    record_type: RecordType,
    record_id: int,
    target_minutes: int,
    occurred_at: datetime,
    threshold: int = BREACH_THRESHOLD,
) -> tuple[SlaAlert, bool]:
    """Record that a record without a timer ran out of ``target_minutes`` (a request approval's
    reminder period), once: the unique key makes a second recording impossible, whichever
    process tries. Returns the alert and whether this call recorded it."""
    table = SlaAlert.__table__
    new_id = session.execute(
        pg_insert(table)
        .values(
            record_type=record_type.value,
            record_id=record_id,
            target_minutes=target_minutes,
            threshold=threshold,
            occurred_at=occurred_at,
        )
        .on_conflict_do_nothing(
            index_elements=["record_type", "record_id", "target_minutes", "threshold"],
            index_where=table.c.timer_id.is_(None),
        )
        .returning(table.c.id)
    ).scalar_one_or_none()
    alert = session.scalars(
        select(SlaAlert)
        .where(
            SlaAlert.record_type == record_type,
            SlaAlert.record_id == record_id,
            SlaAlert.timer_id.is_(None),
            SlaAlert.target_minutes == target_minutes,
            SlaAlert.threshold == threshold,
        )
        .execution_options(populate_existing=True)
    ).one()
    return alert, new_id is not None


def current_timer(*, session: Session, alert: SlaAlert) -> SlaTimer | None:
    """The alert's timer while it is open and the alert is about its current target; None when
    the alert is moot (the timer finished, was cancelled or was retargeted since)."""
    timer = session.get(SlaTimer, alert.timer_id, populate_existing=True)
    if (
        timer is not None
        and timer.completed_at is None
        and timer.state != TimerState.cancelled
        and alert.target_minutes == timer.target_minutes
    ):
        return timer
    return None


def rule_applies(
    rule: SlaEscalationRule, alert: SlaAlert, timer: SlaTimer, *, priority: int
) -> bool:
    return (
        rule.threshold <= alert.threshold
        and rule.target in (None, timer.target)
        and rule.priority in (None, priority)
        and rule.policy_id in (None, timer.policy_id)
    )


def claim(
    *,
    session: Session,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    timer: SlaTimer | None,
    now: datetime,
) -> int | None:
    """Claim (timer, rule), or (record, rule) for an alert without a timer, with the unique key:
    the new escalation's id, or None when the rule has fired for it already."""
    table = SlaEscalation.__table__
    statement = pg_insert(table).values(
        rule_id=rule.id,
        timer_id=timer.id if timer is not None else None,
        alert_id=alert.id,
        record_type=alert.record_type,
        record_id=alert.record_id,
        action=rule.action,
        outcome="pending",
        fired_at=now,
    )
    if timer is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["timer_id", "rule_id"])
    else:
        statement = statement.on_conflict_do_nothing(
            index_elements=["record_type", "record_id", "rule_id"],
            index_where=table.c.timer_id.is_(None),
        )
    return session.execute(statement.returning(table.c.id)).scalar_one_or_none()


def _alert_phrase(alert: SlaAlert) -> str:
    if alert.threshold == BREACH_THRESHOLD:
        return "breached"
    return f"at {alert.threshold}% of its target"


def reason(rule: SlaEscalationRule, alert: SlaAlert, timer: SlaTimer) -> str:
    """Why an escalation acted, as the incident's events say it."""
    return f"SLA escalation rule {rule.name!r}: the {timer.target} SLA is {_alert_phrase(alert)}"


def notify(
    *,
    session: Session,
    escalation_id: int,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    timer: SlaTimer,
    incident: EscalatedRecord,
    now: datetime,
) -> Outcome:
    """The ``notify`` action: record who is to be told what (the rule's team, or the incident's
    team and assignee)."""
    team_id = rule.team_id or incident.assignment_group_id
    user_id = incident.assignee_id if rule.team_id is None else None
    if team_id is None and user_id is None:
        return "skipped", {"reason": "nobody to notify: no team on the rule or the incident"}
    due = timer.due_at.isoformat() if timer.due_at else "paused"
    add_notification(
        session=session,
        escalation_id=escalation_id,
        record_type=RecordType.incident,
        record_id=incident.id,
        team_id=team_id,
        user_id=user_id,
        subject=f"{incident.number}: {timer.target} SLA {_alert_phrase(alert)}",
        body=(
            f"{incident.number} ({incident.title}), priority P{incident.priority}: the "
            f"{timer.target} SLA ({timer.target_minutes} business minutes, due {due}) "
            f"is {_alert_phrase(alert)}. Rule: {rule.name}."
        ),
        now=now,
    )
    return "done", {"team_id": team_id}


def add_notification(
    *,
    session: Session,
    escalation_id: int,
    record_type: RecordType,
    record_id: int,
    team_id: int | None,
    user_id: int | None,
    subject: str,
    body: str,
    now: datetime,
) -> SlaNotification:
    """Record who an escalation tells what; the record's flow hands it to the outbox."""
    notification = SlaNotification(
        escalation_id=escalation_id,
        record_type=record_type.value,
        record_id=record_id,
        recipient_team_id=team_id,
        recipient_user_id=user_id,
        subject=subject,
        body=body,
        created_at=now,
    )
    session.add(notification)
    session.flush()
    return notification


def undelivered_notifications(
    *,
    session: Session,
    incident_id: int | None = None,
    record_type: RecordType | None = None,
    record_id: int | None = None,
    limit: int = 500,
) -> list[SlaNotification]:
    """Notifications not handed to the outbox yet (one incident's, one record's, those of one
    record type, or any), locked; rows another transaction holds are skipped (it hands them
    over)."""
    statement = select(SlaNotification).where(SlaNotification.delivered_at.is_(None))
    if incident_id is not None:
        statement = statement.where(SlaNotification.incident_id == incident_id)
    if record_type is not None:
        statement = statement.where(SlaNotification.record_type == record_type)
    if record_id is not None:
        statement = statement.where(SlaNotification.record_id == record_id)
    return list(
        session.scalars(
            statement.order_by(SlaNotification.id).limit(limit).with_for_update(skip_locked=True)
        )
    )


def mark_handed_over(*, session: Session, notification: SlaNotification, now: datetime) -> None:
    """``delivered_at``: when the notification went into the notifications outbox, which
    delivers it (and records each message's own delivery)."""
    notification.delivered_at = now
    session.flush()


def record(
    *,
    session: Session,
    escalation_id: int,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    timer: SlaTimer,
    outcome: Outcome,
    now: datetime,
) -> None:
    """Settle the claimed escalation with its outcome, and log it on the incident."""
    result, detail = settle(
        session=session, escalation_id=escalation_id, rule=rule, alert=alert, outcome=outcome
    )
    events_service.append(
        session=session,
        entity_type=EntityType.incident,
        entity_id=timer.incident_id,
        kind=EventKind.escalated,
        actor=None,
        actor_label=SLA_ACTOR_LABEL,
        field=timer.target,
        new_value=rule.action,
        occurred_at=now,
        data={
            "rule_id": rule.id,
            "action": rule.action,
            "outcome": result,
            "threshold": alert.threshold,
            "escalation_id": escalation_id,
            **{k: v for k, v in detail.items() if k in ("team_id", "priority", "error")},
        },
    )
    session.flush()


def settle(
    *,
    session: Session,
    escalation_id: int,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    outcome: Outcome,
) -> Outcome:
    """Settle a claimed escalation with its outcome; returns it with the rule and threshold added
    to the detail (what the record's own event says)."""
    result, detail = outcome
    detail = {**detail, "rule": rule.name, "threshold": alert.threshold}
    escalation = session.get(SlaEscalation, escalation_id)
    escalation.outcome = result
    escalation.detail = detail
    session.flush()
    return result, detail


def mark_escalated(*, session: Session, alert: SlaAlert, now: datetime) -> None:
    alert.escalated_at = now
    session.flush()


def list_escalations(
    *,
    session: Session,
    params: PageParams,
    incident_id: int | None = None,
    record_type: RecordType | None = None,
    record_id: int | None = None,
) -> Page[Any]:
    statement = select(SlaEscalation)
    if incident_id is not None:
        statement = statement.where(SlaEscalation.incident_id == incident_id)
    if record_type is not None:
        statement = statement.where(SlaEscalation.record_type == record_type)
    if record_id is not None:
        statement = statement.where(SlaEscalation.record_id == record_id)
    return paginate(
        session,
        statement,
        params,
        sortable={"id": SlaEscalation.id, "fired_at": SlaEscalation.fired_at},
        default_sort=[SlaEscalation.id],
    )


def list_notifications(
    *,
    session: Session,
    params: PageParams,
    incident_id: int | None = None,
    record_type: RecordType | None = None,
    record_id: int | None = None,
) -> Page[Any]:
    statement = select(SlaNotification)
    if incident_id is not None:
        statement = statement.where(SlaNotification.incident_id == incident_id)
    if record_type is not None:
        statement = statement.where(SlaNotification.record_type == record_type)
    if record_id is not None:
        statement = statement.where(SlaNotification.record_id == record_id)
    return paginate(
        session,
        statement,
        params,
        sortable={"id": SlaNotification.id, "created_at": SlaNotification.created_at},
        default_sort=[SlaNotification.id],
    )
