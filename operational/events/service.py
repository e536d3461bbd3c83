"""Appending to the event log (the only writer; nothing updates or deletes) and reading it."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.pagination import Page, PageParams, paginate
from operational.events.models import Event


def _stringify(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return str(value)


def next_seq(*, session: Session, entity_type: str, entity_id: int) -> int:
    current = session.scalar(
        select(func.max(Event.seq)).where(
            Event.entity_type == entity_type, Event.entity_id == entity_id
        )
    )
    return (current or 0) + 1


def append(
    *,
    session: Session,
    entity_type: str,
    entity_id: int,
    kind: str,
    actor: User | None,
    field: str | None = None,
    old_value: Any = None,
    new_value: Any = None,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    actor_label: str | None = None,
) -> Event:
    """Append one event in the caller's transaction (callers lock the record they change)."""
    event = Event(
        entity_type=str(entity_type),
        entity_id=entity_id,
        seq=next_seq(session=session, entity_type=str(entity_type), entity_id=entity_id),
        occurred_at=occurred_at or datetime.now(UTC),
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.display_name if actor else "system"),
        kind=str(kind),
        field=field,
        old_value=_stringify(old_value),
        new_value=_stringify(new_value),
        data=data,
    )
    session.add(event)
    session.flush()
    return event


HISTORY_SORTABLE = {"seq": Event.seq, "occurred_at": Event.occurred_at}


def history(*, session: Session, entity_type: str, entity_id: int, params: PageParams) -> Page[Any]:
    """One page of a record's events, in order (``sort`` may name seq or occurred_at)."""
    statement = select(Event).where(
        Event.entity_type == str(entity_type), Event.entity_id == entity_id
    )
    return paginate(session, statement, params, sortable=HISTORY_SORTABLE, default_sort=[Event.seq])


def list_for(*, session: Session, entity_type: str, entity_id: int) -> Sequence[Event]:
    return session.scalars(
        select(Event)
        .where(Event.entity_type == str(entity_type), Event.entity_id == entity_id)
        .order_by(Event.seq)
    ).all()
