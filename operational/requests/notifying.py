"""What a request's approvals tell whom, through the notifications outbox: each approver whose
decision is newly needed gets an approval request; the worker's reminder goes to the approver,
and an escalation to whom it hands the decision (the approver's manager, or the rule's person),
or, for a notify rule, to the rule's team or person."""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.core.config import get_settings
from operational.notifications import service as notifications
from operational.notifications.enums import EventType
from operational.requests import approvals
from operational.requests.enums import ApprovalState
from operational.requests.models import Approval, RequestItem
from operational.sla import escalation as sla_escalation
from operational.sla.enums import EscalationAction


def pending_approval_ids(*, session: Session, item: RequestItem) -> set[int]:
    return {
        approval.id
        for stage in approvals.stages_of(session=session, item_id=item.id)
        for approval in stage.approvals
        if approval.state == ApprovalState.pending
    }


def _context(approval: Approval) -> dict[str, Any]:
    item = approval.item
    requester = item.request.requester
    return {
        "ticket_number": item.number,
        "ticket_title": item.item_name,
        "ticket_url": f"{get_settings().api_base_url}/api/v1/approvals/{approval.id}",
        "approvals_url": f"{get_settings().api_base_url}/api/v1/approvals/{approval.id}",
        "item_name": item.item_name,
        "requester_name": requester.display_name if requester else "someone",
        "reason": approval.stage.name,
    }


def approvals_requested(
    *, session: Session, item: RequestItem, before: set[int], now: datetime
) -> None:
    """An approval request to each approver whose approval opened since ``before``."""
    opened = pending_approval_ids(session=session, item=item) - before
    for approval_id in sorted(opened):
        approval = approvals.get(session=session, approval_id=approval_id)
        notifications.enqueue(
            session=session,
            event_type=EventType.approval_requested,
            recipients=[approval.approver_id],
            context=_context(approval),
            now=now,
        )


def chased(
    *, session: Session, approval: Approval, chased: approvals.Chased, now: datetime
) -> None:
    """The reminder to the approver; each escalation's notification (recorded by the SLA
    engine): an escalated approval asks its new decider, a notice tells the rule's team or
    person. Each notification is marked handed over once in the outbox."""
    if chased.reminded:
        notifications.enqueue(
            session=session,
            event_type=EventType.approval_reminder,
            recipients=[approval.approver_id],
            context=_context(approval),
            now=now,
        )
    for escalated in chased.escalations:
        notification = escalated.notification
        if notification is None:
            continue
        if escalated.action == EscalationAction.escalate:
            notifications.enqueue(
                session=session,
                event_type=EventType.approval_requested,
                recipients=[notification.recipient_user_id],
                context={**_context(approval), "reason": "escalated: the approver has not decided"},
                now=now,
            )
        else:
            notifications.enqueue(
                session=session,
                event_type=EventType.sla_escalation,
                recipients=[notification.recipient_user_id]
                if notification.recipient_user_id
                else [],
                teams=[notification.recipient_team_id] if notification.recipient_team_id else [],
                context={
                    **_context(approval),
                    "escalation_subject": notification.subject,
                    "escalation_body": notification.body,
                },
                now=now,
            )
        sla_escalation.mark_handed_over(session=session, notification=notification, now=now)


def survey_invitation(*, session: Session, request: Any, invitation: Any, now: datetime) -> None:
    """The closed request's one-time survey link, to its requester alone."""
    notifications.enqueue(
        session=session,
        event_type=EventType.csat_invitation,
        recipients=[request.requester_id],
        context={
            "ticket_number": request.number,
            "ticket_title": ", ".join(item.item_name for item in request.items) or request.number,
            "ticket_url": f"{get_settings().api_base_url}/api/v1/requests/{request.id}",
            "survey_url": (
                f"{get_settings().api_base_url}/api/v1/request-surveys/{invitation.token}"
            ),
            "expires_at": invitation.survey.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        },
        now=now,
    )
