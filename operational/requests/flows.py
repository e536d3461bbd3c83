"""Request flows: one user action or worker step across the request's parts and the domains
below, in one transaction. An order starts each item's approval; each decision moves it on;
the end of the approvals creates the fulfilment tasks; the last task closed delivers the item;
the last item finished closes the request and opens its survey. After every step the item's
delivery clock is replayed by the SLA engine (``clock``).

    router / worker ──> flows ──> service, catalog, approvals, fulfilment, clock, csat
                              └─> tickets.hooks (what happened to the request, for the
                                  automation rules above: created, updated, state_changed,
                                  commented, sla_warning, sla_breached)
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.errors import Forbidden, UnprocessableEntity
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.requests import approvals, catalog, clock, csat, fulfilment, notifying, service
from operational.requests.enums import FINISHED_ITEM_STATES, ClockState, ItemState, StageState
from operational.requests.models import Approval, Request, RequestItem, RequestTask
from operational.requests.recording import finish, now_or, record
from operational.requests.schemas import (
    RequestCreate,
    RequestItemUpdate,
    RequestUpdate,
    TaskUpdate,
)
from operational.sla.businesstime import BusinessCalendar
from operational.tickets import hooks
from operational.tickets.hooks import RecordChange, Trigger

RECORD_TYPE = "request"


@dataclass
class RequestOutcome:
    """A request after a flow, with the survey invitation its closing opened (shown once)."""

    request: Request
    survey_invitation: csat.SurveyInvitation | None = None


def _published(
    session: Session,
    request: Request,
    before: dict[str, Any] | None,
    now: datetime,
    actor: User | None,
) -> None:
    """Tell the layer above (automation rules) what changed on the request, in this
    transaction (the rules see the request, not its items)."""
    hooks.publish_change(
        session, record_type=RECORD_TYPE, record=request, before=before, now=now, actor=actor
    )


def _published_event(
    session: Session,
    request: Request,
    trigger: str,
    now: datetime,
    actor: User | None = None,
    **data: Any,
) -> None:
    if hooks.installed():
        hooks.publish(
            session,
            RecordChange(
                record_type=RECORD_TYPE,
                record=request,
                trigger=trigger,
                now=now,
                actor=actor,
                data=data,
            ),
        )


def _due(calendar: BusinessCalendar) -> Callable[[datetime, int], datetime]:
    return lambda start, minutes: clock.due_after(calendar=calendar, start=start, minutes=minutes)


def _snapshot(session: Session, item: RequestItem) -> dict[str, Any]:
    """The catalog item as it was when ordered: its policy and plan hold for this order."""
    return catalog.get_version(
        session=session, item_id=item.catalog_item_id, version=item.item_version
    ).snapshot


def _move_on(
    session: Session, item: RequestItem, now: datetime, calendar: BusinessCalendar
) -> None:
    """Start the next approval stage, or, with the approval over, start fulfilment."""
    snapshot = _snapshot(session, item)
    progress = approvals.advance(
        session=session,
        item=item,
        policy=snapshot["approval_policy"],
        requester=item.request.requester,
        now=now,
        due=_due(calendar),
    )
    if progress.outcome == "approved":
        stages = approvals.stages_of(session=session, item_id=item.id)
        reason = (
            "approved"
            if any(s.state == StageState.approved for s in stages)
            else ("no approval needed")
        )
        service.move_item(
            session=session,
            item=item,
            actor=None,
            state=ItemState.in_fulfilment,
            now=now,
            reason=reason,
            system=True,
        )
        fulfilment.create_tasks(
            session=session, item=item, plan=snapshot["fulfilment_plan"], now=now
        )


def _settle(
    session: Session, item: RequestItem, now: datetime, calendar: BusinessCalendar | None = None
) -> csat.SurveyInvitation | None:
    """Replay the item's clock; close its request when every item is finished (and open the
    requester's survey)."""
    clock.recompute(session=session, item=item, now=now, calendar=calendar)
    request = item.request
    before = hooks.snapshot(request) if hooks.installed() else None
    closed = service.close_if_done(session=session, request=request, now=now)
    if before is not None:
        _published(session, request, before, now, None)
    if closed:
        invitation = csat.open_survey(session=session, request=request, now=now)
        notifying.survey_invitation(
            session=session, request=request, invitation=invitation, now=now
        )
        return invitation
    return None


def order(
    *, session: Session, data: RequestCreate, actor: User, now: datetime | None = None
) -> RequestOutcome:
    """Place an order; each item's approval starts (or, needing none, its fulfilment)."""
    now = now_or(now)
    request, created = service.create(session=session, data=data, actor=actor, now=now)
    for item, catalog_item in created:
        calendar = clock.calendar_for(session=session, calendar_id=item.sla_calendar_id)
        approvals.instantiate(
            session=session,
            item=item,
            policy=catalog_item.approval_policy,
            requester=request.requester,
            now=now,
        )
        _move_on(session, item, now, calendar)
        notifying.approvals_requested(session=session, item=item, before=set(), now=now)
        clock.recompute(session=session, item=item, now=now, calendar=calendar)
    session.refresh(request)
    _published(session, request, None, now, actor)
    return RequestOutcome(request=request)


def update(
    *,
    session: Session,
    request: Request,
    data: RequestUpdate,
    expected_version: int | None,
    actor: User | None,
    now: datetime | None = None,
) -> Request:
    """Change the request's custom fields (a PATCH, or an automation rule's); rules fire."""
    now = now_or(now)
    before = hooks.snapshot(request)
    updated = service.update(
        session=session,
        request=request,
        data=data,
        expected_version=expected_version,
        actor=actor,
        now=now,
    )
    _published(session, updated, before, now, actor)
    return updated


def decide(
    *,
    session: Session,
    approval: Approval,
    actor: User,
    approve: bool,
    comment: str | None,
    now: datetime | None = None,
) -> tuple[Approval, csat.SurveyInvitation | None]:
    """Approve or reject; a decided stage moves the item on, a rejection ends it with the
    reason."""
    now = now_or(now)
    item = approval.item
    service.lock_item(session=session, item=item)
    session.refresh(approval)
    stage = approvals.decide(
        session=session, approval=approval, actor=actor, approve=approve, comment=comment, now=now
    )
    calendar = clock.calendar_for(session=session, calendar_id=item.sla_calendar_id)
    if stage.state == StageState.rejected:
        service.move_item(
            session=session,
            item=item,
            actor=actor,
            state=ItemState.rejected,
            now=now,
            reason=comment,
            system=True,
        )
        approvals.cancel_open_stages(
            session=session, item=item, now=now, note=f"{item.number} was rejected"
        )
    elif stage.state == StageState.approved:
        before = notifying.pending_approval_ids(session=session, item=item)
        _move_on(session, item, now, calendar)
        notifying.approvals_requested(session=session, item=item, before=before, now=now)
        finish(session, item, now)
    else:
        finish(session, item, now)
    invitation = _settle(session, item, now, calendar)
    session.refresh(approval)
    return approval, invitation


def _end_item(
    session: Session, item: RequestItem, actor: User | None, now: datetime, reason: str
) -> None:
    approvals.cancel_open_stages(session=session, item=item, now=now, note=reason)
    fulfilment.cancel_open(session=session, item=item, actor=actor, now=now, reason=reason)
    service.move_item(
        session=session, item=item, actor=actor, state=ItemState.cancelled, now=now, reason=reason
    )


def update_item(
    *,
    session: Session,
    item: RequestItem,
    data: RequestItemUpdate,
    actor: User,
    expected_version: int | None,
    now: datetime | None = None,
) -> tuple[RequestItem, csat.SurveyInvitation | None]:
    """A fulfiller's move: wait for the requester (the clock pauses), resume, or cancel."""
    now = now_or(now)
    service.lock_item(session=session, item=item)
    service.check_item_version(item=item, expected=expected_version)
    if data.state == ItemState.cancelled:
        if not data.reason:
            raise UnprocessableEntity("Cancelling needs a reason", field="reason")
        _end_item(session, item, actor, now, data.reason)
    else:
        service.move_item(
            session=session, item=item, actor=actor, state=data.state, now=now, reason=data.reason
        )
    return item, _settle(session, item, now)


def reply(
    *, session: Session, item: RequestItem, actor: User, comment: str, now: datetime | None = None
) -> RequestItem:
    """The requester answers an item that waits for them: the clock runs again."""
    now = now_or(now)
    service.lock_item(session=session, item=item)
    if actor.id != item.request.requester_id:
        raise Forbidden(f"Only the requester of {item.number} answers for it")
    record(session, item, EventKind.comment_added, actor, now, new=comment)
    _published_event(
        session,
        item.request,
        Trigger.commented,
        now,
        actor,
        item=item.number,
        body=comment,
        is_public=True,
    )
    if item.state == ItemState.awaiting_requester:
        service.move_item(
            session=session,
            item=item,
            actor=actor,
            state=ItemState.in_fulfilment,
            now=now,
            reason="the requester replied",
        )
    _settle(session, item, now)
    return item


def cancel_request(
    *,
    session: Session,
    request: Request,
    actor: User,
    reason: str,
    expected_version: int | None,
    now: datetime | None = None,
) -> RequestOutcome:
    """Withdraw a request: every unfinished item is cancelled with its approvals and tasks."""
    now = now_or(now)
    service.start_cancel(
        session=session, request=request, actor=actor, expected_version=expected_version
    )
    before = hooks.snapshot(request)
    for item in service.items_of(session=session, request_id=request.id):
        if item.state in FINISHED_ITEM_STATES:
            continue
        service.lock_item(session=session, item=item)
        _end_item(session, item, actor, now, reason)
        clock.recompute(session=session, item=item, now=now)
    invitation = None
    if service.close_if_done(session=session, request=request, now=now, actor=actor):
        invitation = csat.open_survey(session=session, request=request, now=now)
    session.refresh(request)
    _published(session, request, before, now, actor)
    return RequestOutcome(request=request, survey_invitation=invitation)


def update_task(
    *,
    session: Session,
    task: RequestTask,
    data: TaskUpdate,
    actor: User,
    expected_version: int | None,
    now: datetime | None = None,
) -> tuple[RequestTask, csat.SurveyInvitation | None]:
    """Work a task; the last one finished delivers its item (or, all cancelled, cancels it)."""
    now = now_or(now)
    applied = fulfilment.update(
        session=session,
        task=task,
        data=data,
        actor=actor,
        expected_version=expected_version,
        now=now,
    )
    if applied.finished:
        item = task.item
        service.lock_item(session=session, item=item)
        ended = fulfilment.open_next(session=session, item=item, now=now)
        if ended == "delivered":
            service.move_item(
                session=session,
                item=item,
                actor=actor,
                state=ItemState.delivered,
                now=now,
                reason=f"{task.number} closed",
                system=True,
            )
        elif ended == "cancelled" and item.state not in FINISHED_ITEM_STATES:
            _end_item(session, item, actor, now, "every fulfilment task was cancelled")
        return task, _settle(session, item, now)
    return task, None


# ------------------------------------------------------------------------- the worker's steps


def chase_approval(*, session: Session, approval_id: int, now: datetime) -> list[str]:
    """Remind or escalate one waiting approval whose time has come, under its item's lock (a
    second worker waits, then finds it recorded); the reminder and each escalation's notice go
    into the notifications outbox. Returns what was done (``reminded``, ``escalated``,
    ``notified``)."""
    approval = approvals.get(session=session, approval_id=approval_id)
    item = approval.item
    service.lock_item(session=session, item=item)
    session.refresh(approval)
    calendar = clock.calendar_for(session=session, calendar_id=item.sla_calendar_id)
    chased = approvals.chase(session=session, approval=approval, now=now, due=_due(calendar))
    notifying.chased(session=session, approval=approval, chased=chased, now=now)
    return chased.done


def refresh_clock(*, session: Session, item_id: int, now: datetime) -> RequestItem:
    """Replay one item's delivery clock (a warning or the target falls due)."""
    item = service.get_item_by_id(session=session, item_id=item_id)
    service.lock_item(session=session, item=item)
    alert_due = item.sla_next_alert_at is not None and item.sla_next_alert_at <= now
    breached_before = item.sla_breached_at is not None
    clock.recompute(session=session, item=item, now=now)
    if item.sla_breached_at is not None and not breached_before:
        trigger = Trigger.sla_breached
    elif alert_due and item.sla_state == ClockState.running:
        trigger = Trigger.sla_warning
    else:
        return item
    # The item's delivery clock crossed a warning or its target: the request's rules hear it.
    _published_event(
        session,
        item.request,
        trigger,
        now,
        item=item.number,
        sla_state=item.sla_state,
        due_at=item.sla_due_at.isoformat() if item.sla_due_at else None,
    )
    return item


def replay_clocks(*, session: Session, item_ids: list[int], now: datetime) -> int:
    """Replay the delivery clocks of many items at once (ingest's imported items, whose logs it
    wrote in bulk): their rows locked and read in one query, their logs in one more, each clock
    replayed as ``refresh_clock`` does. Returns how many."""
    if not item_ids:
        return 0
    items = session.scalars(
        select(RequestItem)
        .where(RequestItem.id.in_(item_ids))
        .order_by(RequestItem.id)
        .with_for_update(of=RequestItem)
    ).unique()
    logs = events.rows_for_many(
        session=session, entity_type=EntityType.request_item, entity_ids=item_ids
    )
    calendars: dict[int | None, BusinessCalendar] = {}
    count = 0
    for item in items:
        if item.sla_calendar_id not in calendars:
            calendars[item.sla_calendar_id] = clock.calendar_for(
                session=session, calendar_id=item.sla_calendar_id
            )
        clock.recompute(
            session=session,
            item=item,
            now=now,
            calendar=calendars[item.sla_calendar_id],
            log=logs.get(item.id, []),
        )
        count += 1
    session.flush()
    return count
