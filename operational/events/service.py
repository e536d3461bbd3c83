"""Appending to the event log and reading it. The only writer of the log: one event at a time
with ``append``, or many at once with ``copy_csv`` (ingest's bulk loader). Nothing updates or
deletes."""

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


# Every column but the id, which the log's sequence draws.
_COPY_COLUMNS = frozenset(Event.__table__.columns.keys()) - {"id"}


def copy_csv(
    *, session: Session, columns: Sequence[str], data: bytes | bytearray | memoryview
) -> int:
    """Append many events at once, by COPY, in the caller's transaction; returns how many.

    ``data`` is CSV (PostgreSQL's COPY format, no header): one record per event, its fields in
    the order of ``columns``. For bulk loads, where ``append`` per event would be far too slow;
    the caller numbers ``seq`` so that each record's log stays gap-free.
    """
    unknown = set(columns) - _COPY_COLUMNS
    if unknown:
        raise ValueError(f"Not columns of the event log: {', '.join(sorted(unknown))}")
    session.flush()  # rows the session holds (a user an event names) go in first
    statement = f"copy {Event.__table__.fullname} ({', '.join(columns)}) from stdin (format csv)"
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(statement) as copy:
            copy.write(data)
        return cursor.rowcount
