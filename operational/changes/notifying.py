"""The advance notice of a change to its stakeholders, through the notifications outbox: when a
change is scheduled (before its implementation), its requester, the person who raised it, its
implementer and its team are sent the stakeholder notice (``messages.render_notice``, kind
``scheduled``), in the transaction that scheduled it."""

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.changes import messages
from operational.changes.enums import ChangeState, NoticeKind
from operational.changes.models import Change
from operational.core.config import get_settings
from operational.notifications import service as notifications
from operational.notifications.enums import EventType


def stakeholder_ids(change: Change) -> list[int]:
    ids = (change.requester_id, change.raised_by_id, change.implementer_id)
    return list(dict.fromkeys(uid for uid in ids if uid is not None))


def scheduled(
    *, session: Session, change: Change, before: str, actor: User | None, now: datetime | None
) -> None:
    """Send the notice when the change has just become scheduled."""
    if change.state != ChangeState.scheduled or before == ChangeState.scheduled:
        return
    notice = messages.render_notice(session=session, change=change, kind=NoticeKind.scheduled)
    if notice.startswith("Subject:"):  # the mail has its own subject
        notice = notice.partition("\n\n")[2]
    notifications.enqueue(
        session=session,
        event_type=EventType.change_notice,
        recipients=stakeholder_ids(change),
        teams=[change.assignment_group_id] if change.assignment_group_id else [],
        actor=actor,
        context={
            "ticket_number": change.number,
            "ticket_title": change.title,
            "ticket_url": f"{get_settings().api_base_url}/api/v1/changes/{change.id}",
            "notice": notice,
            "planned_start": change.planned_start,
            "planned_end": change.planned_end,
        },
        now=now or datetime.now(UTC),
    )
