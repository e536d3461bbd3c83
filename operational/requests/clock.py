"""The delivery clock of a request item, replayed from its log by the SLA engine.

A request item's states are told to the SLA engine's timeline in the incident vocabulary it
knows: waiting for approval is ``new``, fulfilment ``in_progress``, waiting for the requester
``on_hold`` for ``awaiting_caller`` (the one pause), delivery ``resolved``, and rejection or
cancellation ``cancelled``. The item's target and its catalog item's calendar make a one-off
policy. The replay (``operational.sla.timeline``) and its arithmetic
(``operational.sla.businesstime``) are the ones incidents use: nothing here counts minutes.
The clock runs from the order, through approval, to delivery; the time spent in approval and in
fulfilment are recorded apart on the item (docs/requests.md, "Delivery SLA").
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.requests.enums import ClockState, ItemState
from operational.requests.models import RequestItem
from operational.sla import businesstime, timeline
from operational.sla import service as sla_service
from operational.sla.businesstime import BusinessCalendar
from operational.sla.enums import TimerTarget

# A request item's state → the incident state the SLA timeline knows.
TIMELINE_STATES = {
    ItemState.pending_approval: "new",
    ItemState.in_fulfilment: "in_progress",
    ItemState.awaiting_requester: "on_hold",
    ItemState.delivered: "resolved",
    ItemState.rejected: "cancelled",
    ItemState.cancelled: "cancelled",
}
AWAITING_REQUESTER = "awaiting_caller"
WARNING_THRESHOLDS = (75, 90)


def calendar_for(*, session: Session, calendar_id: int | None) -> BusinessCalendar:
    """The SLA calendar by id; none: round the clock in UTC."""
    if calendar_id is None:
        return BusinessCalendar.twenty_four_seven()
    return sla_service.to_business_calendar(
        sla_service.get_calendar(session=session, calendar_id=calendar_id)
    )


def _hold(state: str) -> str | None:
    return AWAITING_REQUESTER if state == ItemState.awaiting_requester else None


def _history(log: Sequence[Any]) -> list[timeline.HistoryEvent]:
    return [
        timeline.HistoryEvent(
            occurred_at=event.occurred_at,
            kind="state_changed",
            field="state",
            old_value=TIMELINE_STATES[ItemState(event.old_value)] if event.old_value else None,
            new_value=TIMELINE_STATES[ItemState(event.new_value)],
            data={"hold_reason": _hold(event.new_value)} if _hold(event.new_value) else None,
        )
        for event in log
        if event.kind == EventKind.state_changed and event.new_value in TIMELINE_STATES
    ]


def _policy(item: RequestItem, calendar: BusinessCalendar) -> timeline.PolicyRules:
    return timeline.PolicyRules(
        id=item.catalog_item_id,
        name=f"{item.item_name} delivery",
        calendar=calendar,
        response_minutes=item.sla_target_minutes,
        resolution_minutes=item.sla_target_minutes,
        pause_on=(timeline.PauseRule("on_hold", AWAITING_REQUESTER),),
        warning_thresholds=WARNING_THRESHOLDS,
    )


def recompute(
    *,
    session: Session,
    item: RequestItem,
    now: datetime,
    calendar: BusinessCalendar | None = None,
    log: Sequence[Any] | None = None,
) -> RequestItem:
    """Replay the item's log into its delivery clock and its approval and fulfilment times.
    ``log``: the item's events in seq order, when the caller read them already (many items at
    once: ``events.rows_for_many``); the caller then flushes the items (in one go)."""
    given = log is not None
    if not given:
        session.flush()
    calendar = calendar or calendar_for(session=session, calendar_id=item.sla_calendar_id)
    if log is None:
        log = events.list_for(
            session=session, entity_type=EntityType.request_item, entity_id=item.id
        )
    state = TIMELINE_STATES[ItemState(item.state)]
    points = timeline.change_points(
        opened_at=item.opened_at,
        requester_id=None,
        current=timeline.Attributes(
            state=state, hold_reason=_hold(item.state), priority=None, service=None, category=None
        ),
        events=_history(log),
    )
    (outcome,) = [
        found
        for found in timeline.replay(points=points, policies=[_policy(item, calendar)], now=now)
        if found.target == TimerTarget.resolution
    ]
    item.sla_state = ClockState(outcome.state.value).value
    item.sla_due_at = outcome.due_at
    item.sla_elapsed_minutes = outcome.elapsed_minutes
    item.sla_paused_minutes = outcome.paused_minutes
    item.sla_breached_at = outcome.breached_at
    item.sla_next_alert_at = outcome.next_alert_at
    item.sla_computed_at = now
    approval_end = item.approved_at or (
        item.closed_at if item.state != ItemState.delivered else None
    )
    if approval_end is not None:
        item.approval_wait_minutes = _minutes(item.opened_at, approval_end)
        item.approval_wait_business_minutes = businesstime.business_minutes_between(
            calendar, item.opened_at, approval_end
        )
    if item.delivered_at is not None and item.approved_at is not None:
        item.fulfilment_minutes = _minutes(item.approved_at, item.delivered_at)
        # The clock runs from the order and stops only for the requester, who never holds up
        # an approval: what it counted after the approval is the fulfilment work.
        item.fulfilment_business_minutes = max(
            0.0, outcome.elapsed_minutes - (item.approval_wait_business_minutes or 0.0)
        )
    if not given:
        session.flush()
    return item


def _minutes(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 60)


def waited_business_minutes(*, calendar: BusinessCalendar, start: datetime, now: datetime) -> float:
    return businesstime.business_minutes_between(calendar, start, now)


def due_after(*, calendar: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    return businesstime.add_business_minutes(calendar, start, minutes)
