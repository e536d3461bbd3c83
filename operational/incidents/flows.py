"""Incident flows: one user action or worker step that spans domains, in one transaction.

A change to an incident is the incident service's work (``service``, ``assignment``); the SLA
timers that follow from it are the SLA engine's (``operational.sla``). A flow calls both, in that
order, and returns everything the router needs. Routers and the worker call these flows; the
services below them never call back up.

    router / worker ──> flows ──> incidents.service, incidents.assignment, incidents.csat
                              └─> sla.timers, sla.escalation
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.errors import DomainError
from operational.incidents import assignment, csat, notifying, service
from operational.incidents.enums import Channel
from operational.incidents.models import Incident, IncidentComment
from operational.incidents.recording import now_or
from operational.incidents.schemas import IncidentCreate, IncidentUpdate
from operational.sla import escalation as sla_escalation
from operational.sla import service as sla_service
from operational.sla import timers as sla_timers
from operational.sla.enums import EscalationAction, RecordType
from operational.sla.models import SlaAlert, SlaEscalationRule, SlaTimer
from operational.tickets import hooks
from operational.tickets.hooks import RecordChange, Trigger

RECORD_TYPE = "incident"

# Imported incidents are replayed this many at a time: one query for their rows and one for
# their events per chunk.
BACKFILL_CHUNK = 1000


@dataclass
class IncidentOutcome:
    """An incident after a flow, with what its response shows: its SLA timers as recomputed,
    the survey invitation a resolution opened (only when the one who resolved it is its
    requester: the token is theirs alone), and the route rule that matched (auto-assign)."""

    incident: Incident
    timers: list[SlaTimer]
    survey_invitation: csat.SurveyInvitation | None = None
    assignment_rule: Any = None


def _settle(
    session: Session,
    incident: Incident,
    now: datetime,
    *,
    actor: User | None = None,
    changed: bool = True,
    resolved: bool = False,
    before: notifying.Snapshot | None = None,
) -> IncidentOutcome:
    """After a change: open the survey of a resolution, and recompute the SLA timers as of the
    time the change's events carry (unchanged incidents keep theirs). The survey's token goes
    to the requester alone: into the outcome only when ``actor`` is the requester, by mail
    otherwise. With ``before``, the change's messages go into the outbox (``notifying``)."""
    invitation = None
    if changed and before is not None:
        notifying.after_change(
            session=session, incident=incident, before=before, actor=actor, now=now
        )
    if resolved and incident.requester_id is not None:
        opened = csat.open_survey(session=session, incident=incident, now=now)
        if actor is not None and actor.id == incident.requester_id:
            invitation = opened
        else:
            notifying.survey_invitation(
                session=session, incident=incident, invitation=opened, actor=actor, now=now
            )
    if changed:
        timers = sla_timers.recompute_timers(session=session, incident=incident, now=now)
    else:
        timers = sla_timers.timers_for(session=session, incident_id=incident.id)
    return IncidentOutcome(incident=incident, timers=timers, survey_invitation=invitation)


def create(
    *,
    session: Session,
    data: IncidentCreate,
    actor: User,
    now: datetime | None = None,
    channel: Channel | None = None,
) -> IncidentOutcome:
    """Raise an incident (routed by the route rules when no team is given) and start its
    SLA timers. ``channel``: the intake's (mail, monitoring), see ``service.create``."""
    now = now_or(now)
    incident = service.create(session=session, data=data, actor=actor, now=now, channel=channel)
    outcome = _settle(session, incident, now, actor=actor, before=notifying.NEW)
    _published(session, incident, None, now, actor)
    return outcome


def update(
    *,
    session: Session,
    incident: Incident,
    data: IncidentUpdate,
    actor: User,
    expected_version: int | None,
    now: datetime | None = None,
) -> IncidentOutcome:
    now = now_or(now)
    before = notifying.snapshot(incident)
    fields_before = hooks.snapshot(incident)
    applied = service.update(
        session=session,
        incident=incident,
        data=data,
        actor=actor,
        expected_version=expected_version,
        now=now,
    )
    outcome = _settle(
        session,
        incident,
        now,
        actor=actor,
        changed=applied.changed,
        resolved=applied.resolved,
        before=before,
    )
    if applied.changed:
        _published(session, incident, fields_before, now, actor)
    return outcome


def transition(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    state: str,
    hold_reason: str | None = None,
    resolution_code: str | None = None,
    resolution_notes: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> IncidentOutcome:
    now = now_or(now)
    before = notifying.snapshot(incident)
    fields_before = hooks.snapshot(incident)
    applied = service.transition(
        session=session,
        incident=incident,
        actor=actor,
        state=state,
        hold_reason=hold_reason,
        resolution_code=resolution_code,
        resolution_notes=resolution_notes,
        reason=reason,
        now=now,
    )
    outcome = _settle(
        session,
        incident,
        now,
        actor=actor,
        changed=applied.changed,
        resolved=applied.resolved,
        before=before,
    )
    if applied.changed:
        _published(session, incident, fields_before, now, actor)
    return outcome


def reopen(
    *, session: Session, incident: Incident, actor: User, reason: str, now: datetime | None = None
) -> IncidentOutcome:
    now = now_or(now)
    fields_before = hooks.snapshot(incident)
    service.reopen(session=session, incident=incident, actor=actor, reason=reason, now=now)
    outcome = _settle(session, incident, now)
    _published(session, incident, fields_before, now, actor)
    return outcome


def assign(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    team_id: int | None = None,
    assignee_id: int | None = None,
    reason: str | None = None,
    escalation_rule_id: int | None = None,
    auto_pick: bool = True,
    now: datetime | None = None,
) -> IncidentOutcome:
    now = now_or(now)
    before = notifying.snapshot(incident)
    fields_before = hooks.snapshot(incident)
    changed = assignment.assign(
        session=session,
        incident=incident,
        actor=actor,
        team_id=team_id,
        assignee_id=assignee_id,
        reason=reason,
        escalation_rule_id=escalation_rule_id,
        auto_pick=auto_pick,
        now=now,
    )
    outcome = _settle(session, incident, now, actor=actor, changed=changed, before=before)
    if changed:
        _published(session, incident, fields_before, now, actor)
    return outcome


def auto_assign(
    *, session: Session, incident: Incident, actor: User | None, now: datetime | None = None
) -> IncidentOutcome:
    """Run the route rules against the incident as it is now (the outcome names the rule that
    matched, if any)."""
    now = now_or(now)
    before = notifying.snapshot(incident)
    fields_before = hooks.snapshot(incident)
    routed = service.reroute(session=session, incident=incident, actor=actor, now=now)
    changed = routed is not None and routed.changed
    outcome = _settle(session, incident, now, actor=actor, changed=changed, before=before)
    outcome.assignment_rule = routed.rule if routed is not None else None
    if changed:
        _published(session, incident, fields_before, now, actor)
    return outcome


def change_priority(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    priority: int,
    reason: str,
    now: datetime | None = None,
) -> IncidentOutcome:
    now = now_or(now)
    fields_before = hooks.snapshot(incident)
    changed = service.change_priority(
        session=session, incident=incident, actor=actor, priority=priority, reason=reason, now=now
    )
    outcome = _settle(session, incident, now, changed=changed)
    if changed:
        _published(session, incident, fields_before, now, actor)
    return outcome


def add_comment(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    body: str,
    is_public: bool = True,
    now: datetime | None = None,
) -> IncidentComment:
    """A comment or work note; a first agent comment is the first response, which the response
    timer sees. Actor None: the system's (an automation rule's), which is no first response."""
    now = now_or(now)
    if actor is None:
        comment = service.add_system_comment(
            session=session, incident=incident, body=body, is_public=is_public, now=now
        )
    else:
        comment = service.add_comment(
            session=session, incident=incident, actor=actor, body=body, is_public=is_public, now=now
        )
    sla_timers.recompute_timers(session=session, incident=incident, now=now)
    notifying.commented(session=session, incident=incident, comment=comment, actor=actor, now=now)
    if hooks.installed():
        hooks.publish(
            session,
            RecordChange(
                record_type=RECORD_TYPE,
                record=incident,
                trigger=Trigger.commented,
                now=now,
                actor=actor,
                data={"comment_id": comment.id, "is_public": is_public, "body": body},
            ),
        )
    return comment


def _published(
    session: Session,
    incident: Incident,
    fields_before: dict[str, Any] | None,
    now: datetime,
    actor: User | None,
) -> None:
    """Tell the layer above (automation rules) what changed, in this transaction."""
    hooks.publish_change(
        session,
        record_type=RECORD_TYPE,
        record=incident,
        before=fields_before,
        now=now,
        actor=actor,
    )


# ------------------------------------------------------------------------- the worker's steps


def close_resolved_incidents(*, session: Session, now: datetime, limit: int = 500) -> int:
    """Close incidents resolved long enough ago, settling their timers; returns how many."""
    closed = service.close_resolved(session=session, now=now, limit=limit)
    for incident in closed:
        sla_timers.recompute_timers(session=session, incident=incident, now=now)
    return len(closed)


def process_sla(*, session: Session, incident_id: int, now: datetime) -> int | None:
    """Recompute one incident's timers and run its pending escalations: the worker's unit of
    work. None when another transaction holds the incident (that one, or the next scan, does
    the work); otherwise how many escalation rules fired."""
    incident = service.lock_unless_held(session=session, incident_id=incident_id)
    if incident is None:
        return None
    sla_timers.recompute_timers(session=session, incident=incident, now=now)
    fired = escalate_sla(session=session, incident=incident, now=now)
    hand_over_sla_notifications(session=session, incident=incident, now=now)
    return fired


def escalate_sla(*, session: Session, incident: Incident, now: datetime) -> int:
    """Run the escalation rules for the incident's warnings and breaches not escalated yet;
    returns how many fired. A rule fires at most once per timer, and only while the timer is
    open and the alert is about its current target. An action that changes the incident
    recomputes its timers, which may raise new alerts: those are escalated in the next round."""
    fired = 0
    while True:
        alerts = sla_escalation.pending_alerts(session=session, incident_id=incident.id)
        if not alerts:
            return fired
        rules = sla_escalation.active_rules(session=session)
        for alert in alerts:
            timer = sla_escalation.current_timer(session=session, alert=alert)
            if timer is not None:
                notifying.sla_alert(
                    session=session, incident=incident, alert=alert, timer=timer, now=now
                )
                _published_alert(session, incident, alert, timer, now)
                for rule in rules:
                    if sla_escalation.rule_applies(rule, alert, timer, priority=incident.priority):
                        fired += _fire(session, incident, rule, alert, timer, now)
            sla_escalation.mark_escalated(session=session, alert=alert, now=now)


def _published_alert(
    session: Session, incident: Incident, alert: SlaAlert, timer: SlaTimer, now: datetime
) -> None:
    if not hooks.installed():
        return
    breached = alert.threshold >= sla_escalation.BREACH_THRESHOLD
    hooks.publish(
        session,
        RecordChange(
            record_type=RECORD_TYPE,
            record=incident,
            trigger=Trigger.sla_breached if breached else Trigger.sla_warning,
            now=now,
            data={"target": timer.target, "threshold": alert.threshold, "timer_id": timer.id},
        ),
    )


def hand_over_sla_notifications(*, session: Session, incident: Incident, now: datetime) -> int:
    """The incident's escalation notifications into the notifications outbox; returns how
    many."""
    pending = sla_escalation.undelivered_notifications(session=session, incident_id=incident.id)
    for notification in pending:
        notifying.sla_notification(
            session=session, incident=incident, notification=notification, now=now
        )
        sla_escalation.mark_handed_over(session=session, notification=notification, now=now)
    return len(pending)


def hand_over_older_sla_notifications(*, session: Session, now: datetime, limit: int = 500) -> int:
    """Escalation notifications recorded before the outbox existed (or by a process that
    stopped in between): into the outbox, one transaction for up to ``limit``."""
    pending = sla_escalation.undelivered_notifications(
        session=session, record_type=RecordType.incident, limit=limit
    )
    for notification in pending:
        incident = service.get(session=session, incident_id=notification.incident_id)
        notifying.sla_notification(
            session=session, incident=incident, notification=notification, now=now
        )
        sla_escalation.mark_handed_over(session=session, notification=notification, now=now)
    return len(pending)


def _fire(
    session: Session,
    incident: Incident,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    timer: SlaTimer,
    now: datetime,
) -> int:
    """Claim (timer, rule), act, and record the outcome; 0 when it had fired already."""
    escalation_id = sla_escalation.claim(
        session=session, rule=rule, alert=alert, timer=timer, now=now
    )
    if escalation_id is None:
        return 0
    try:
        with session.begin_nested():
            outcome = _act(session, incident, rule, alert, timer, escalation_id, now)
    except DomainError as exc:
        outcome = ("failed", {"error": exc.detail})
    sla_escalation.record(
        session=session,
        escalation_id=escalation_id,
        rule=rule,
        alert=alert,
        timer=timer,
        outcome=outcome,
        now=now,
    )
    return 1


def _act(
    session: Session,
    incident: Incident,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    timer: SlaTimer,
    escalation_id: int,
    now: datetime,
) -> sla_escalation.Outcome:
    if rule.action == EscalationAction.notify:
        return sla_escalation.notify(
            session=session,
            escalation_id=escalation_id,
            rule=rule,
            alert=alert,
            timer=timer,
            incident=incident,
            now=now,
        )
    reason = sla_escalation.reason(rule, alert, timer)
    if rule.action == EscalationAction.reassign:
        if incident.assignment_group_id == rule.team_id:
            return "skipped", {"reason": "already with that team", "team_id": rule.team_id}
        assign(
            session=session,
            incident=incident,
            actor=None,
            team_id=rule.team_id,
            reason=reason,
            escalation_rule_id=rule.id,
            now=now,
        )
        return "done", {"team_id": rule.team_id}
    new_priority = rule.raise_to_priority or incident.priority - 1
    if new_priority < 1 or new_priority >= incident.priority:
        return "skipped", {"reason": f"already at P{incident.priority}"}
    change_priority(
        session=session,
        incident=incident,
        actor=None,
        priority=new_priority,
        reason=reason,
        now=now,
    )
    return "done", {"priority": new_priority}


# -------------------------------------------------------------------------------- imports


def backfill_sla(
    *, session: Session, incident_ids: Iterable[int], now: datetime | None = None
) -> int:
    """Compute the timers of imported incidents from their histories, a chunk at a time;
    returns how many incidents were replayed."""
    now = now_or(now)
    session.flush()
    ids = sorted(set(incident_ids))
    policies = sla_service.active_policy_rules(session=session)
    replayed = 0
    for start in range(0, len(ids), BACKFILL_CHUNK):
        rows = service.sla_rows(session=session, incident_ids=ids[start : start + BACKFILL_CHUNK])
        replayed += sla_timers.backfill(session=session, incidents=rows, now=now, policies=policies)
    return replayed
