"""What an incident's changes tell whom: the messages the incident flows put in the
notifications outbox (``notifications.service.enqueue``), in the transaction of the change.

- a new assignee is told (or, assigned to a team with no one yet, the team);
- the requester is told of a comment they can see, of the resolution, and when the incident
  waits for them (on hold, awaiting the caller); the assignee of a comment the requester wrote;
- the requester alone gets the CSAT invitation, with the one-time link;
- SLA warnings and breaches go to the assignee (or the team), and the escalation rules'
  ``notify`` actions to the rule's recipients.

Whoever made the change is never told of it.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.config import get_settings
from operational.incidents.csat import SurveyInvitation
from operational.incidents.models import Incident, IncidentComment
from operational.notifications import service as notifications
from operational.notifications.enums import EventType
from operational.sla.enums import BREACH_THRESHOLD
from operational.sla.models import SlaAlert, SlaNotification, SlaTimer
from operational.tickets.enums import IncidentState

WAITING_FOR_REQUESTER = "awaiting_caller"


@dataclass(frozen=True)
class Snapshot:
    """What the messages depend on, as it was before a change."""

    state: str | None
    hold_reason: str | None
    assignee_id: int | None
    assignment_group_id: int | None


NEW = Snapshot(None, None, None, None)


def snapshot(incident: Incident) -> Snapshot:
    return Snapshot(
        incident.state, incident.hold_reason, incident.assignee_id, incident.assignment_group_id
    )


def incident_url(incident: Incident) -> str:
    return f"{get_settings().api_base_url}/api/v1/incidents/{incident.id}"


def survey_url(token: str) -> str:
    return f"{get_settings().api_base_url}/api/v1/csat/{token}"


def _context(incident: Incident, **extra: Any) -> dict[str, Any]:
    return {
        "ticket_number": incident.number,
        "ticket_title": incident.title,
        "ticket_url": incident_url(incident),
        "priority": incident.priority,
        "state": incident.state,
        **extra,
    }


def _people_current(incident: Incident) -> bool:
    """Whether the incident's assignee and team, as loaded, are those its ids name (the lock's
    reload read them; a change of assignment since leaves them stale). One whose id is None
    needs no loading: it reads as None without a statement."""
    loaded = inspect(incident).dict
    for name, wanted in (
        ("assignee", incident.assignee_id),
        ("assignment_group", incident.assignment_group_id),
    ):
        if wanted is None and name not in loaded:
            continue
        if name not in loaded or (loaded[name].id if loaded[name] else None) != wanted:
            return False
    return True


def after_change(
    *,
    session: Session,
    incident: Incident,
    before: Snapshot,
    actor: User | None,
    now: datetime,
) -> None:
    """The messages a change of assignment or state calls for."""
    if not _people_current(incident):
        session.refresh(incident, ["assignee", "assignment_group"])
    team = incident.assignment_group
    assignee = incident.assignee
    if incident.assignee_id is not None and incident.assignee_id != before.assignee_id:
        notifications.enqueue(
            session=session,
            event_type=EventType.incident_assigned,
            recipients=[incident.assignee_id],
            actor=actor,
            context=_context(
                incident,
                assignee_name=assignee.display_name if assignee else None,
                team_name=team.name if team else None,
            ),
            now=now,
        )
    elif (
        incident.assignee_id is None
        and incident.assignment_group_id is not None
        and incident.assignment_group_id != before.assignment_group_id
    ):
        notifications.enqueue(
            session=session,
            event_type=EventType.incident_assigned,
            teams=[incident.assignment_group_id],
            actor=actor,
            context=_context(incident, assignee_name=None, team_name=team.name if team else None),
            now=now,
        )
    if incident.requester_id is None:
        return
    if incident.state == IncidentState.resolved and before.state != IncidentState.resolved:
        notifications.enqueue(
            session=session,
            event_type=EventType.incident_resolved,
            recipients=[incident.requester_id],
            actor=actor,
            context=_context(incident, resolution_notes=incident.resolution_notes),
            now=now,
        )
    waiting = (
        incident.state == IncidentState.on_hold and incident.hold_reason == WAITING_FOR_REQUESTER
    )
    was_waiting = (
        before.state == IncidentState.on_hold and before.hold_reason == WAITING_FOR_REQUESTER
    )
    if waiting and not was_waiting:
        notifications.enqueue(
            session=session,
            event_type=EventType.incident_waiting,
            recipients=[incident.requester_id],
            actor=actor,
            context=_context(incident, hold_reason="we need your answer"),
            now=now,
        )


def survey_invitation(
    *,
    session: Session,
    incident: Incident,
    invitation: SurveyInvitation,
    actor: User | None,
    now: datetime,
) -> None:
    """The one-time link, to the requester alone (never to webhooks). A requester who resolved
    the incident themselves saw the link in the response already."""
    if incident.requester_id is None:
        return
    notifications.enqueue(
        session=session,
        event_type=EventType.csat_invitation,
        recipients=[incident.requester_id],
        actor=actor,
        context=_context(
            incident,
            survey_url=survey_url(invitation.token),
            expires_at=invitation.survey.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        ),
        now=now,
    )


def commented(
    *,
    session: Session,
    incident: Incident,
    comment: IncidentComment,
    actor: User | None,
    now: datetime,
) -> None:
    """A comment the requester can see: to the requester, and to the assignee."""
    if not comment.is_public:
        return
    recipients = [uid for uid in (incident.requester_id, incident.assignee_id) if uid]
    notifications.enqueue(
        session=session,
        event_type=EventType.incident_commented,
        recipients=recipients,
        actor=actor,
        context=_context(incident, comment_body=comment.body),
        now=now,
    )


def sla_alert(
    *, session: Session, incident: Incident, alert: SlaAlert, timer: SlaTimer, now: datetime
) -> None:
    """A warning or breach of a timer still running: to the assignee, else the team."""
    breached = alert.threshold == BREACH_THRESHOLD
    notifications.enqueue(
        session=session,
        event_type=EventType.sla_breached if breached else EventType.sla_warning,
        recipients=[incident.assignee_id] if incident.assignee_id else [],
        teams=[incident.assignment_group_id]
        if incident.assignee_id is None and incident.assignment_group_id
        else [],
        context=_context(
            incident,
            target=timer.target,
            threshold=alert.threshold,
            due_at=timer.due_at.strftime("%Y-%m-%d %H:%M UTC") if timer.due_at else "paused",
        ),
        now=now,
    )


def sla_notification(
    *, session: Session, incident: Incident, notification: SlaNotification, now: datetime
) -> None:
    """An escalation rule's ``notify`` action, with the wording the SLA engine recorded."""
    notifications.enqueue(
        session=session,
        event_type=EventType.sla_escalation,
        recipients=[notification.recipient_user_id] if notification.recipient_user_id else [],
        teams=[notification.recipient_team_id] if notification.recipient_team_id else [],
        context=_context(
            incident,
            escalation_subject=notification.subject,
            escalation_body=notification.body,
        ),
        now=now,
    )
