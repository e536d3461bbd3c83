"""The event log's only writer (nothing updates or deletes) and its readers.

Every event is appended here: one at a time with ``append``, many in one statement with
``append_many`` (the SLA engine's transitions), or by COPY with ``copy_csv`` (ingest's bulk
loader, which numbers ``seq`` itself for speed).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from operational.core.db import insert_rows
from operational.core.pagination import Page, PageParams, paginate
from operational.events.models import Event


class Actor(Protocol):
    """Who did it: a user (auth's model). Named here by shape, so the log depends on no domain."""

    id: int
    display_name: str


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
    actor: Actor | None,
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


_BULK_DEFAULTS: dict[str, Any] = {
    "actor_id": None,
    "actor_label": "system",
    "field": None,
    "old_value": None,
    "new_value": None,
    "data": None,
    "source_system": "native",
    "synthesized": False,
}


def append_many(*, session: Session, events: Sequence[Mapping[str, Any]]) -> int:
    """Append events in bulk, in the order given, in one statement; returns how many.

    Each mapping holds ``entity_type``, ``entity_id``, ``kind`` and ``occurred_at``, and may hold
    ``actor_id``, ``actor_label``, ``field``, ``old_value``, ``new_value``, ``data``,
    ``source_system`` and ``synthesized``. Each record's events continue its ``seq``; callers
    lock the records they append to, as for ``append``.
    """
    if not events:
        return 0
    keys = {(str(event["entity_type"]), event["entity_id"]) for event in events}
    last_seq: dict[tuple[str, int], int] = defaultdict(int)
    last_seq.update(
        {
            (entity_type, entity_id): seq
            for entity_type, entity_id, seq in session.execute(
                select(Event.entity_type, Event.entity_id, func.max(Event.seq))
                .where(tuple_(Event.entity_type, Event.entity_id).in_(keys))
                .group_by(Event.entity_type, Event.entity_id)
            )
        }
    )
    rows = []
    for event in events:
        key = (str(event["entity_type"]), event["entity_id"])
        last_seq[key] += 1
        row = {**_BULK_DEFAULTS, **event, "entity_type": key[0], "seq": last_seq[key]}
        row["kind"] = str(row["kind"])
        row["old_value"] = _stringify(row["old_value"])
        row["new_value"] = _stringify(row["new_value"])
        rows.append(row)
    session.flush()
    insert_rows(session, Event.__table__, rows)
    return len(rows)


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


def rows_for_many(
    *, session: Session, entity_type: str, entity_ids: Iterable[int]
) -> dict[int, list[Any]]:
    """The logs of many records in one query, as rows in seq order, by record id (for replays
    over thousands of records, where ORM objects would cost more than the replay)."""
    found: dict[int, list[Any]] = defaultdict(list)
    for event in session.execute(
        select(
            Event.entity_id,
            Event.seq,
            Event.occurred_at,
            Event.kind,
            Event.field,
            Event.old_value,
            Event.new_value,
            Event.actor_id,
            Event.data,
            Event.source_system,
        )
        .where(Event.entity_type == str(entity_type), Event.entity_id.in_(list(entity_ids)))
        .order_by(Event.entity_id, Event.seq)
    ):
        found[event.entity_id].append(event)
    return found


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


# Every append notifies channel ``itsm_events`` at commit (a trigger, migration 0020_inbound):
# {"id", "type", "record"} per event, or {"bulk": n} for a statement of more than 1,000. The
# live stream (operational/live) listens; these read what it was told about.
NOTIFY_CHANNEL = "itsm_events"


def by_ids(*, session: Session, event_ids: Iterable[int]) -> list[Event]:
    """Events by id, in id order (the ones a notification named)."""
    ids = sorted(set(event_ids))
    if not ids:
        return []
    return list(session.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.id)))


def after(*, session: Session, event_id: int, limit: int) -> list[Event]:
    """Up to ``limit`` events appended after ``event_id`` (by id), oldest first: the stream's
    replay after a reconnect."""
    return list(
        session.scalars(select(Event).where(Event.id > event_id).order_by(Event.id).limit(limit))
    )
