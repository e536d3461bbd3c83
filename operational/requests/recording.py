"""How the request services write a change: lock the row, append one event per change to the
record's log, bump the version. One discipline for requests, items and tasks."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.errors import NotFound
from operational.core.references import record_id, record_number
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.requests.models import Request, RequestItem, RequestTask

Record = Request | RequestItem | RequestTask

ENTITY_TYPES: dict[type, EntityType] = {
    Request: EntityType.request,
    RequestItem: EntityType.request_item,
    RequestTask: EntityType.request_task,
}


def now_or(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def lock(session: Session, record: Record) -> None:
    """Lock the row (its event sequence and version depend on it) and reload it."""
    model = type(record)
    session.execute(select(model.id).where(model.id == record.id).with_for_update())
    session.refresh(record)


def record(
    session: Session,
    target: Record,
    kind: EventKind,
    actor: User | None,
    now: datetime,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> Event:
    return events.append(
        session=session,
        entity_type=ENTITY_TYPES[type(target)],
        entity_id=target.id,
        kind=kind,
        actor=actor,
        field=field,
        old_value=old,
        new_value=new,
        data={key: value for key, value in (data or {}).items() if value is not None} or None,
        occurred_at=now,
        actor_label=actor_label,
    )


def set_state(
    session: Session,
    target: Record,
    actor: User | None,
    now: datetime,
    state: str,
    *,
    data: dict[str, Any] | None = None,
) -> None:
    old = target.state
    target.state = state
    record(
        session,
        target,
        EventKind.state_changed,
        actor,
        now,
        field="state",
        old=old,
        new=state,
        data=data,
    )


def finish(session: Session, target: Record, now: datetime, *, bump: bool = True) -> None:
    if bump:
        target.version += 1
    target.updated_at = now
    session.flush()


def by_reference(session: Session, model: type, reference: str, what: str) -> Any:
    """A request, item or task by id (``42``) or number (``RITM0000042``); else NotFound."""
    reference = reference.strip()
    found = None
    if (found_id := record_id(reference)) is not None:
        found = session.get(model, found_id)
    elif number := record_number(reference, max_length=model.__table__.c.number.type.length):
        found = session.scalar(select(model).where(model.number == number))
    if found is None:
        raise NotFound(f"{what} {reference} does not exist")
    return found
