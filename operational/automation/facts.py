"""What a rule's conditions see of a change: the record, what changed, the time, the comment
that triggered it, and two lookups (when the record entered its state; an SLA business
calendar), read only when a condition asks."""

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from operational.automation.conditions import Facts
from operational.events import service as events
from operational.sla import service as sla_service
from operational.sla.businesstime import BusinessCalendar
from operational.tickets.hooks import RecordChange, Trigger


def _calendar(session: Session, calendar_id: int | None) -> BusinessCalendar:
    if calendar_id is None:
        return BusinessCalendar.twenty_four_seven()
    return sla_service.to_business_calendar(
        sla_service.get_calendar(session=session, calendar_id=calendar_id)
    )


def _state_since(session: Session, record_type: str, record: Any) -> datetime:
    event = events.last_change(
        session=session, entity_type=record_type, entity_id=record.id, field="state"
    )
    if event is not None:
        return event.occurred_at
    return getattr(record, "opened_at", None) or record.created_at


def facts_for(session: Session, change: RecordChange) -> Facts:
    return Facts(
        record=change.record,
        now=change.now,
        changes=change.changes,
        state_since=partial(_state_since, session, change.record_type, change.record),
        calendar=partial(_calendar, session),
        comment=_comment_of(change),
    )


def _comment_of(change: RecordChange) -> dict[str, Any]:
    if change.trigger != Trigger.commented:
        return {}
    return {"body": change.data.get("body"), "public": change.data.get("is_public")}
