"""Requests (REQ) and their items (RITM): ordering, the item workflow, closing, search.

An order is checked whole before anything is written: every line's item must be orderable by
the requester, and every line's answers must fit the item's form (one 422 names each wrong field
of each line). Approvals (``approvals``), tasks (``fulfilment``) and the delivery clock
(``clock``) are the flows' to coordinate. Functions flush, never commit.
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.core.concurrency import check_version
from operational.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.customfields import service as custom_fields
from operational.customfields.enums import RecordType
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.requests import catalog, workflow
from operational.requests.enums import (
    FINISHED_ITEM_STATES,
    ItemState,
    MessageKind,
    RequestState,
)
from operational.requests.exceptions import InvalidOrderForm
from operational.requests.models import (
    CatalogItem,
    Request,
    RequestItem,
    request_item_number_seq,
    request_number_seq,
)
from operational.requests.recording import by_reference, finish, lock, now_or, record, set_state
from operational.requests.schemas import (
    RequestCreate,
    RequestFilters,
    RequestItemFilters,
    RequestUpdate,
)

READ_ALL = "request:read_all"
FULFIL = "request:fulfil"

REQUEST_SORTABLE = {
    "number": Request.number,
    "state": Request.state,
    "opened_at": Request.opened_at,
    "closed_at": Request.closed_at,
    "updated_at": Request.updated_at,
}
ITEM_SORTABLE = {
    "number": RequestItem.number,
    "state": RequestItem.state,
    "opened_at": RequestItem.opened_at,
    "delivered_at": RequestItem.delivered_at,
    "sla_due_at": RequestItem.sla_due_at,
    "cost": RequestItem.cost,
    "item_name": RequestItem.item_name,
    "updated_at": RequestItem.updated_at,
}


# ---------------------------------------------------------------------------------- lookups


def can_read_all(user: User) -> bool:
    return has_permission(user, READ_ALL)


def can_fulfil(user: User) -> bool:
    return has_permission(user, FULFIL)


def as_requester(actor: User | None) -> bool:
    """Whether custom fields are limited to the requesters' own: for a person who may not
    fulfil requests; never for the platform itself (no actor)."""
    return actor is not None and not can_fulfil(actor)


def is_visible_to(request: Request, user: User) -> bool:
    """Requesters see only their own requests, as with incidents."""
    return can_read_all(user) or request.requester_id == user.id


def get_request(*, session: Session, reference: str) -> Request:
    """By id (``42``) or number (``REQ0000042``)."""
    return by_reference(session, Request, reference, "Request")


def get_item(*, session: Session, reference: str) -> RequestItem:
    """By id or number (``RITM0000042``)."""
    return by_reference(session, RequestItem, reference, "Request item")


def get_item_by_id(*, session: Session, item_id: int) -> RequestItem:
    item = session.get(RequestItem, item_id)
    if item is None:
        raise NotFound(f"Request item {item_id} does not exist")
    return item


def auth_user(*, session: Session, user_id: int) -> User:
    user = auth_service.get_user(session=session, user_id=user_id)
    if user is None:
        raise UnprocessableEntity(f"User {user_id} does not exist", field="delegator_id")
    return user


def _next_number(session: Session, sequence: Any, prefix: str, model: type) -> str:
    # Imported records keep their source numbers, which may collide with ours: skip those.
    while True:
        number = f"{prefix}{session.scalar(select(sequence.next_value())):07d}"
        if not session.scalar(select(exists().where(model.number == number))):
            return number


# ----------------------------------------------------------------------------------- orders


def _line_cost(item: CatalogItem, quantity: int) -> Decimal | None:
    return None if item.price is None else Decimal(item.price) * quantity


def create(
    *, session: Session, data: RequestCreate, actor: User, now: datetime | None = None
) -> tuple[Request, list[tuple[RequestItem, CatalogItem]]]:
    """Place an order: the request and one item per line, all waiting for approval. Returns the
    request and each item with the catalog item it was ordered from."""
    now = now_or(now)
    requester = actor
    if data.requested_for_id is not None and data.requested_for_id != actor.id:
        if not can_fulfil(actor):
            raise Forbidden(f"Ordering for someone else needs the {FULFIL!r} permission")
        requester = auth_service.get_user(session=session, user_id=data.requested_for_id)
        if requester is None or not requester.is_active:
            raise UnprocessableEntity(
                f"User {data.requested_for_id} cannot be a requester", field="requested_for_id"
            )
    lines: list[tuple[CatalogItem, Any]] = []
    errors: list[dict[str, Any]] = []
    for number, line in enumerate(data.items, start=1):
        try:
            item = catalog.get_item(session=session, item_id=line.catalog_item_id)
        except NotFound:
            raise UnprocessableEntity(
                f"Line {number}: catalog item {line.catalog_item_id} does not exist",
                field=f"items.{number - 1}.catalog_item_id",
            ) from None
        catalog.ensure_orderable(item, requester)
        errors.extend(
            {**error, "line": number}
            for error in catalog.form_errors(
                session=session, schema=item.form_schema, answers=line.answers
            )
        )
        lines.append((item, line))
    if errors:
        fields = ", ".join(dict.fromkeys(f"line {e['line']}: {e['field']}" for e in errors))
        raise InvalidOrderForm(f"The answers do not fit the form ({fields})", errors=errors)
    custom_values = custom_fields.validate(
        session=session,
        record_type=RecordType.request,
        values=data.custom_fields,
        requester_only=as_requester(actor),
    )

    request = Request(
        number=_next_number(session, request_number_seq, "REQ", Request),
        requester_id=requester.id,
        opened_by_id=actor.id,
        justification=data.justification,
        state=RequestState.open.value,
        opened_at=now,
        created_at=now,
        updated_at=now,
        custom_fields=custom_values,
    )
    session.add(request)
    session.flush()
    record(
        session,
        request,
        EventKind.created,
        actor,
        now,
        new=request.number,
        data={
            "requester_id": requester.id,
            "lines": len(lines),
            "custom_fields": custom_values or None,
        },
    )
    created = []
    for number, (catalog_item, line) in enumerate(lines, start=1):
        item = RequestItem(
            number=_next_number(session, request_item_number_seq, "RITM", RequestItem),
            request_id=request.id,
            line=number,
            catalog_item_id=catalog_item.id,
            item_version=catalog_item.version,
            item_name=catalog_item.name,
            quantity=line.quantity,
            answers=line.answers,
            cost=_line_cost(catalog_item, line.quantity),
            state=ItemState.pending_approval.value,
            fulfilment_team_id=catalog_item.fulfilment_team_id,
            opened_at=now,
            sla_calendar_id=catalog_item.calendar_id,
            sla_target_minutes=catalog_item.delivery_minutes,
            created_at=now,
            updated_at=now,
        )
        session.add(item)
        session.flush()
        record(
            session,
            item,
            EventKind.created,
            actor,
            now,
            new=item.number,
            data={
                "request": request.number,
                "catalog_item_id": catalog_item.id,
                "item_version": catalog_item.version,
                "item": catalog_item.name,
                "quantity": item.quantity,
                "cost": str(item.cost) if item.cost is not None else None,
                "state": item.state,
            },
        )
        created.append((item, catalog_item))
    session.refresh(request)
    return request, created


def update(
    *,
    session: Session,
    request: Request,
    data: RequestUpdate,
    expected_version: int | None,
    actor: User,
    now: datetime | None = None,
) -> Request:
    """Change the request's custom fields (null clears one): one field_changed event per field
    that changed, named cf.<name>. A requester sets only the fields requesters may set. An
    ended request (closed or cancelled) keeps what it had: 409."""
    now = now_or(now)
    lock(session, request)
    check_version(current=request.version, expected=expected_version, what=request.number)
    if "custom_fields" not in data.model_fields_set:
        return request
    if request.state != RequestState.open:
        raise Conflict(
            f"{request.number} is {request.state}; it can no longer be changed",
            state=request.state,
        )
    after = custom_fields.validate(
        session=session,
        record_type=RecordType.request,
        values=data.custom_fields,
        current=request.custom_fields,
        requester_only=as_requester(actor),
    )
    found = custom_fields.changes(request.custom_fields, after)
    if not found:
        return request
    request.custom_fields = after
    for change in found:
        record(
            session,
            request,
            EventKind.field_changed,
            actor,
            now,
            field=change.event_field,
            old=custom_fields.event_text(change.old),
            new=custom_fields.event_text(change.new),
            data={"old": change.old, "new": change.new},
        )
    finish(session, request, now)
    return request


# --------------------------------------------------------------------------------- workflow


def move_item(
    *,
    session: Session,
    item: RequestItem,
    actor: User | None,
    state: ItemState,
    now: datetime,
    reason: str | None = None,
    system: bool = False,
) -> bool:
    """Move the item (409 naming the allowed moves); the caller holds it locked."""
    if item.state == state:
        return False
    workflow.check_item(item.state, state, system=system)
    previous = item.state
    set_state(session, item, actor, now, state.value, data={"reason": reason})
    if previous == ItemState.pending_approval and state == ItemState.in_fulfilment:
        item.approved_at = now
    if state == ItemState.delivered:
        item.delivered_at = now
    if state in FINISHED_ITEM_STATES:
        item.closed_at = now
    if state == ItemState.rejected:
        item.rejection_reason = reason
    finish(session, item, now)
    return True


def lock_item(*, session: Session, item: RequestItem) -> None:
    lock(session, item)


def check_item_version(*, item: RequestItem, expected: int | None) -> None:
    check_version(current=item.version, expected=expected, what=item.number)


def close_if_done(
    *, session: Session, request: Request, now: datetime, actor: User | None = None
) -> bool:
    """Close the request once every item is finished; True when this closed it."""
    lock(session, request)
    if request.state != RequestState.open:
        return False
    items = items_of(session=session, request_id=request.id)
    if not items or any(item.state not in FINISHED_ITEM_STATES for item in items):
        return False
    cancelled = all(item.state == ItemState.cancelled for item in items)
    target = RequestState.cancelled if cancelled else RequestState.closed
    set_state(session, request, actor, now, target.value)
    request.closed_at = now
    finish(session, request, now)
    return target == RequestState.closed


def start_cancel(
    *, session: Session, request: Request, actor: User, expected_version: int | None
) -> None:
    lock(session, request)
    check_version(current=request.version, expected=expected_version, what=request.number)
    if request.state != RequestState.open:
        raise Conflict(f"{request.number} is {request.state}", state=request.state)


def items_of(*, session: Session, request_id: int) -> list[RequestItem]:
    return list(
        session.scalars(
            select(RequestItem)
            .where(RequestItem.request_id == request_id)
            .order_by(RequestItem.line)
            .execution_options(populate_existing=True)
        ).unique()
    )


# ------------------------------------------------------------------------------------ lists


def _text_match(text: str) -> Any:
    return or_(
        RequestItem.number.icontains(text, autoescape=True),
        RequestItem.item_name.icontains(text, autoescape=True),
        Request.number.icontains(text, autoescape=True),
    )


def item_ids_matching(*, session: Session, text: str) -> Select[Any]:
    """A subquery of the ids of items whose number, name or request number contains ``text``."""
    return select(RequestItem.id).join(Request).where(_text_match(text))


def search_requests(
    *,
    session: Session,
    viewer: User,
    filters: RequestFilters,
    params: PageParams,
    custom: Mapping[str, list[str]] | None = None,
) -> Page[Any]:
    """A page of the requests ``viewer`` may see matching ``filters`` and the ``cf.<name>``
    filters ``custom``; ``params.sort`` may name custom fields. A requester filters and sorts
    only by the fields requesters see."""
    requester_only = not can_read_all(viewer)
    statement: Select[Any] = select(Request).where(
        *custom_fields.filter_clauses(
            session=session,
            record_type=RecordType.request,
            column=Request.custom_fields,
            params=custom or {},
            requester_only=requester_only,
        )
    )
    if requester_only:
        statement = statement.where(Request.requester_id == viewer.id)
    if filters.state:
        statement = statement.where(Request.state.in_([state.value for state in filters.state]))
    if filters.requester_id is not None:
        statement = statement.where(Request.requester_id == filters.requester_id)
    if filters.opened_from is not None:
        statement = statement.where(Request.opened_at >= filters.opened_from)
    if filters.opened_to is not None:
        statement = statement.where(Request.opened_at < filters.opened_to)
    lines = select(RequestItem.id).where(RequestItem.request_id == Request.id)
    if filters.catalog_item_id is not None:
        statement = statement.where(
            lines.where(RequestItem.catalog_item_id == filters.catalog_item_id).exists()
        )
    if filters.q and filters.q.strip():
        text = filters.q.strip()
        statement = statement.where(
            or_(
                Request.number.icontains(text, autoescape=True),
                lines.where(
                    or_(
                        RequestItem.number.icontains(text, autoescape=True),
                        RequestItem.item_name.icontains(text, autoescape=True),
                    )
                ).exists(),
            )
        )
    sortable = REQUEST_SORTABLE | custom_fields.sortable(
        session=session,
        record_type=RecordType.request,
        column=Request.custom_fields,
        sort=params.sort,
        requester_only=requester_only,
    )
    return paginate(
        session,
        statement,
        params,
        sortable=sortable,
        default_sort=[Request.opened_at.desc(), Request.id.desc()],
    )


def search_items(
    *, session: Session, viewer: User, filters: RequestItemFilters, params: PageParams
) -> Page[Any]:
    statement: Select[Any] = select(RequestItem).join(Request)
    if not can_read_all(viewer):
        statement = statement.where(Request.requester_id == viewer.id)
    if filters.state:
        statement = statement.where(RequestItem.state.in_([s.value for s in filters.state]))
    if filters.sla_state:
        statement = statement.where(RequestItem.sla_state.in_([s.value for s in filters.sla_state]))
    for column, value in (
        (RequestItem.catalog_item_id, filters.catalog_item_id),
        (RequestItem.request_id, filters.request_id),
        (RequestItem.fulfilment_team_id, filters.fulfilment_team_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.opened_from is not None:
        statement = statement.where(RequestItem.opened_at >= filters.opened_from)
    if filters.opened_to is not None:
        statement = statement.where(RequestItem.opened_at < filters.opened_to)
    if filters.q and filters.q.strip():
        statement = statement.where(_text_match(filters.q.strip()))
    return paginate(
        session,
        statement,
        params,
        sortable=ITEM_SORTABLE,
        default_sort=[RequestItem.opened_at.desc(), RequestItem.id.desc()],
    )


def timeline(*, session: Session, entity_type: EntityType, entity_id: int) -> list[Event]:
    return list(events.list_for(session=session, entity_type=entity_type, entity_id=entity_id))


def requester_messages(*, session: Session, item: RequestItem) -> list[tuple[MessageKind, Event]]:
    """The item's conversation with its requester, in order: each hold for the requester and each
    cancellation with the reason the fulfiller gave, and the requester's replies. Internal moves
    (approvals, resumes, task notes) are not part of it."""
    found = []
    for event in events.list_for(
        session=session, entity_type=EntityType.request_item, entity_id=item.id
    ):
        reason = (event.data or {}).get("reason")
        if event.kind == EventKind.comment_added and event.new_value:
            found.append((MessageKind.reply, event))
        elif event.kind == EventKind.state_changed and reason:
            if event.new_value == ItemState.awaiting_requester:
                found.append((MessageKind.question, event))
            elif event.new_value == ItemState.cancelled:
                found.append((MessageKind.cancelled, event))
    return found


def items_due(*, session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Items whose delivery clock crosses a warning or its target by ``now``."""
    return list(
        session.scalars(
            select(RequestItem.id)
            .where(RequestItem.sla_next_alert_at <= now)
            .order_by(RequestItem.sla_next_alert_at, RequestItem.id)
            .limit(limit)
        )
    )
