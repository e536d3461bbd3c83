"""The event log's only writer (nothing updates or deletes) and its readers.

Every event is appended here: one at a time with ``append``, many in one statement with
``append_many`` (the SLA engine's transitions), or by COPY with ``copy_frame`` (ingest's bulk
loader, which numbers ``seq`` itself for speed). Each of them links every event into its
record's hash chain (``operational/events/chain.py``): it sets ``recorded_at`` (the
transaction's time, as the column's default would), ``prev_hash`` and ``hash``. Callers lock the
record they append to, so each chain has one writer at a time; different records never wait on
each other. That is also why ``append`` and ``append_many`` keep the heads they wrote (and the
transaction's time) in the session until its transaction ends: the next event of that record in
the same transaction continues from there without reading the head again.
"""

import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, Protocol

import polars as pl
from sqlalchemy import case, func, insert, select, text
from sqlalchemy import event as orm_event
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import (
    Session,
    SessionTransaction,
    SessionTransactionOrigin,
    make_transient_to_detached,
)

from operational.core.db import ensure_writable, insert_rows
from operational.core.pagination import Page, PageParams, paginate
from operational.events import chain
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


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot write {value!r} as JSON")


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _as_stored(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``data`` as jsonb will give it back (times as ISO text), which is what is hashed."""
    if data is None:
        return None
    if all(type(key) is str and type(value) in _PLAIN for key, value in data.items()):
        return dict(data)  # a flat object of JSON scalars comes back as it is
    return json.loads(json.dumps(data, default=_json_value))


def next_seq(*, session: Session, entity_type: str, entity_id: int) -> int:
    current = session.scalar(
        select(func.max(Event.seq)).where(
            Event.entity_type == entity_type, Event.entity_id == entity_id
        )
    )
    return (current or 0) + 1


def _link(row: dict[str, Any], prev_hash: str | None) -> dict[str, Any]:
    """``row`` (every column of ``chain.FIELDS``) with its ``prev_hash`` and ``hash`` set."""
    row["prev_hash"] = prev_hash
    row["hash"] = chain.event_hash(row, prev_hash)
    return row


_ATTRIBUTION = "events.attribution"  # session.info: (label or None, data) of the open blocks

# session.info: {(entity_type, entity_id): (seq, hash)} of the chains this transaction appended
# to, and the transaction's time. The caller holds those records locked, so nobody else can
# append to them until it ends; the end of the transaction or of a savepoint forgets both (a
# flush's own inner transaction is neither).
_WRITTEN = "events.written_heads"
_NOW = "events.now"


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_written_heads(session: Session, transaction: SessionTransaction) -> None:
    if transaction.origin is SessionTransactionOrigin.SUBTRANSACTION:
        return
    session.info.pop(_WRITTEN, None)
    session.info.pop(_NOW, None)


def _remember(session: Session, now: datetime, heads: Mapping[tuple[str, int], tuple]) -> None:
    session.info.setdefault(_WRITTEN, {}).update(heads)
    session.info[_NOW] = now


@contextmanager
def attributed(
    session: Session, *, data: Mapping[str, Any], label: str | None = None
) -> Iterator[None]:
    """Every event appended through ``session`` in this block carries ``data`` in its data (the
    event's own keys win) and, when ``label`` is given, names it as its actor label: why
    something changed, whichever domain's service writes the event. An automation rule's actions
    are ``label="rule: <name>"``, ``data={"rule_id": 3}``; a bulk job's changes
    ``data={"bulk_job_id": 7}``. Blocks nest: their data adds up (inner wins), the innermost
    label names the events. Kept on the session, so it follows the transaction, not the thread."""
    previous = session.info.get(_ATTRIBUTION)
    outer_label, outer_data = previous or (None, {})
    session.info[_ATTRIBUTION] = (label or outer_label, {**outer_data, **data})
    try:
        yield
    finally:
        if previous is None:
            session.info.pop(_ATTRIBUTION, None)
        else:
            session.info[_ATTRIBUTION] = previous


def _attribute(
    session: Session, data: Mapping[str, Any] | None, actor_label: str | None
) -> tuple[Mapping[str, Any] | None, str | None]:
    """``data`` and ``actor_label`` as the open ``attributed`` blocks make them."""
    attribution = session.info.get(_ATTRIBUTION)
    if attribution is None:
        return data, actor_label
    label, extra = attribution
    return {**extra, **(data or {})}, label or actor_label


def _read_head(session: Session, key: tuple[str, int]) -> Any:
    """The record's last stored seq and hash, and the transaction's time. Nothing pending in
    the session bears on them (events are never pending: they go in at once)."""
    with session.no_autoflush:
        return session.execute(
            text(
                """
                select now() as now, head.seq, head.hash
                from (select 1) as one
                left join lateral (
                    select e.seq, e.hash from operational.events e
                    where e.entity_type = :entity_type and e.entity_id = :entity_id
                    order by e.seq desc limit 1
                ) head on true
                """
            ),
            {"entity_type": key[0], "entity_id": key[1]},
        ).one()


_INSERT_EVENT = insert(Event.__table__).returning(Event.__table__.c.id)


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
    data, actor_label = _attribute(session, data, actor_label)
    key = (str(entity_type), entity_id)
    written = session.info.get(_WRITTEN, {}).get(key)
    if written is not None:
        now, (seq, prev_hash) = session.info[_NOW], written
    else:
        head = _read_head(session, key)
        now, seq, prev_hash = head.now, head.seq or 0, head.hash
    row = _link(
        {
            "entity_type": key[0],
            "entity_id": entity_id,
            "seq": seq + 1,
            "occurred_at": occurred_at or datetime.now(UTC),
            "recorded_at": now,
            "actor_id": actor.id if actor else None,
            "actor_label": actor_label or (actor.display_name if actor else "system"),
            "kind": str(kind),
            "field": field,
            "old_value": _stringify(old_value),
            "new_value": _stringify(new_value),
            "data": _as_stored(data),
            "source_system": "native",
            "synthesized": False,
        },
        prev_hash,
    )
    # The event goes in by its own INSERT, not a flush: the record's changes pending in the
    # session (an update's fields, one event each) then go in one UPDATE when the caller
    # flushes, not one per event. New rows the event may name (its actor) go in first.
    if session.new:
        session.flush()
    ensure_writable(session)
    event = Event(**row)
    with session.no_autoflush:
        event.id = session.execute(_INSERT_EVENT, row).scalar_one()
    make_transient_to_detached(event)
    session.add(event)  # persistent, as a flush would have left it
    _remember(session, now, {key: (row["seq"], row["hash"])})
    return event


def last_change(*, session: Session, entity_type: str, entity_id: int, field: str) -> Event | None:
    """The record's latest event that set ``field`` (e.g. when it entered its current state)."""
    return session.scalar(
        select(Event)
        .where(
            Event.entity_type == str(entity_type),
            Event.entity_id == entity_id,
            Event.field == field,
        )
        .order_by(Event.seq.desc())
        .limit(1)
    )


# Bookkeeping columns a configuration snapshot leaves out: they change on every write.
_SNAPSHOT_SKIPPED = frozenset({"created_at", "updated_at", "version"})


def snapshot(row: Any, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """A configuration row's column values (as JSON will hold them), for ``record_change``."""
    from sqlalchemy import inspect

    skipped = _SNAPSHOT_SKIPPED | set(skip)
    values = {
        attribute.key: getattr(row, attribute.key)
        for attribute in inspect(row).mapper.column_attrs
        if attribute.key not in skipped
    }
    return _as_stored(values) or {}


def record_change(
    *,
    session: Session,
    entity_type: str,
    entity_id: int,
    actor: Actor | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    label: str | None = None,
) -> Event | None:
    """Record a configuration change (a CAB rule, an SLA calendar, a CI class, ...) as one event
    of the record's log: ``created`` (``before`` None), ``deleted`` (``after`` None) or
    ``field_changed``, with ``data.before`` and ``data.after`` holding the values of the fields
    that differ (all of them on create and delete). Nothing is recorded when nothing changed.
    ``label`` (the record's name) goes to ``new_value``."""
    before = _as_stored(before)
    after = _as_stored(after)
    if before is None and after is None:
        return None
    if before is None:
        kind, data = "created", {"before": None, "after": after}
    elif after is None:
        kind, data = "deleted", {"before": before, "after": None}
    else:
        changed = sorted(key for key in {*before, *after} if before.get(key) != after.get(key))
        if not changed:
            return None
        kind = "field_changed"
        data = {
            "before": {key: before.get(key) for key in changed},
            "after": {key: after.get(key) for key in changed},
        }
    return append(
        session=session,
        entity_type=entity_type,
        entity_id=entity_id,
        kind=kind,
        actor=actor,
        new_value=label,
        data=data,
    )


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


def _heads(
    session: Session, keys: set[tuple[str, int]]
) -> tuple[datetime, dict[tuple[str, int], tuple[int, str]]]:
    """The transaction's time (``recorded_at``), and the last stored (seq, hash) of each of
    these records' chains that has events: one statement."""
    rows = session.execute(
        text(
            """
            select now(), head.entity_type, head.entity_id, head.seq, head.hash
            from (select 1) as one
            left join lateral (
                select distinct on (e.entity_type, e.entity_id)
                    e.entity_type, e.entity_id, e.seq, e.hash
                from unnest(cast(:types as text[]), cast(:ids as bigint[]))
                    as k(entity_type, entity_id)
                join operational.events e
                  on e.entity_type = k.entity_type and e.entity_id = k.entity_id
                order by e.entity_type, e.entity_id, e.seq desc
            ) head on true
            """
        ),
        {"types": [key[0] for key in keys], "ids": [key[1] for key in keys]},
    ).all()  # one fetch: iterating the result fetches row by row
    found = {(row[1], row[2]): (row[3], row[4]) for row in rows if row[1] is not None}
    return rows[0][0], found


def append_many(*, session: Session, events: Sequence[Mapping[str, Any]]) -> int:
    """Append events in bulk, in the order given, in one statement; returns how many.

    Each mapping holds ``entity_type``, ``entity_id``, ``kind`` and ``occurred_at``, and may hold
    ``actor_id``, ``actor_label``, ``field``, ``old_value``, ``new_value``, ``data``,
    ``source_system`` and ``synthesized``. Each record's events continue its ``seq`` and its
    chain; callers lock the records they append to, as for ``append``.
    """
    if not events:
        return 0
    session.flush()
    keys = {(str(event["entity_type"]), event["entity_id"]) for event in events}
    heads: dict[tuple[str, int], tuple[int, str | None]] = defaultdict(lambda: (0, None))
    written = session.info.get(_WRITTEN, {})
    unread = {key for key in keys if key not in written}
    if unread:
        now, stored = _heads(session, unread)
        heads.update(stored)
    else:
        now = session.info[_NOW]
    heads.update((key, written[key]) for key in keys - unread)
    recorded_at = chain.timestamp(now)  # one instant for all: formatted once for the hashes
    rows = []
    for event in events:
        key = (str(event["entity_type"]), event["entity_id"])
        seq, prev_hash = heads[key]
        row = {**_BULK_DEFAULTS, **event, "entity_type": key[0], "seq": seq + 1}
        row["recorded_at"] = now
        row["kind"] = str(row["kind"])
        row["old_value"] = _stringify(row["old_value"])
        row["new_value"] = _stringify(row["new_value"])
        data, label = _attribute(session, row["data"], row["actor_label"])
        row["data"], row["actor_label"] = _as_stored(data), label
        hashed = [row[name] for name in chain.FIELDS]
        hashed[_RECORDED_AT] = recorded_at
        row["prev_hash"] = prev_hash
        row["hash"] = chain.row_hash(tuple(hashed), prev_hash)
        heads[key] = (row["seq"], row["hash"])
        rows.append(row)
    if len(rows) >= _COPY_FROM:
        _copy_rows(session, rows)
    else:
        insert_rows(session, Event.__table__, rows)
    _remember(session, now, {key: heads[key] for key in keys})
    return len(rows)


# From this many events on, ``append_many`` writes by COPY (an SLA backfill of imported tickets
# appends hundreds of thousands): PostgreSQL parses no JSON document of them all, and the rows
# take one pass of psycopg's C row formatter. Fewer go in one INSERT, as every request's do.
_COPY_FROM = 1000
_COPY_COLUMNS = (*chain.FIELDS, "prev_hash", "hash")
_RECORDED_AT = chain.FIELDS.index("recorded_at")


def _copy_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """COPY rows of every ``_COPY_COLUMNS`` (hashed already) into the log."""
    statement = f"copy {Event.__table__.fullname} ({', '.join(_COPY_COLUMNS)}) from stdin"
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in _COPY_COLUMNS]
            data = values[11]
            if data is not None:
                values[11] = chain.encode(data)
            copy.write_row(values)


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
    *,
    session: Session,
    entity_type: str,
    entity_ids: Iterable[int],
    data_keys: Sequence[str] | None = None,
) -> dict[int, list[Any]]:
    """The logs of many records in one query, as rows in seq order, by record id (for replays
    over thousands of records, where ORM objects would cost more than the replay).

    With ``data_keys``, an event's ``data`` comes only when it holds one of those keys (else
    null): a reader that looks at no other key sees the same, and the rest (an import's
    positions, on every imported event) is not sent and decoded."""
    events = Event.__table__.c  # Core columns: the rows skip the ORM's loading (a tenth here)
    data = events.data
    if data_keys is not None:
        data = case((events.data.has_any(array(list(data_keys))), events.data), else_=None)
    session.flush()  # as the ORM's autoflush would
    found: dict[int, list[Any]] = defaultdict(list)
    for event in session.execute(
        select(
            events.entity_id,
            events.seq,
            events.occurred_at,
            events.kind,
            events.field,
            events.old_value,
            events.new_value,
            events.actor_id,
            data.label("data"),
            events.source_system,
        )
        .where(events.entity_type == str(entity_type), events.entity_id.in_(list(entity_ids)))
        .order_by(events.entity_id, events.seq)
    ).all():  # one fetch: iterating the result fetches row by row
        found[event[0]].append(event)  # by position: a row's attributes cost more
    return found


# The columns a frame for ``copy_frame`` may hold, and what the log stores for those it lacks.
COPY_SCHEMA: dict[str, pl.DataType] = {
    "entity_type": pl.String(),
    "entity_id": pl.Int64(),
    "seq": pl.Int64(),
    "occurred_at": pl.Datetime("us", "UTC"),
    "actor_id": pl.Int64(),
    "actor_label": pl.String(),
    "kind": pl.String(),
    "field": pl.String(),
    "old_value": pl.String(),
    "new_value": pl.String(),
    "data": pl.String(),  # a JSON object, as text
    "source_system": pl.String(),
    "synthesized": pl.Boolean(),
}
_COPY_REQUIRED = ("entity_type", "entity_id", "seq", "occurred_at", "kind")
_COPY_DEFAULTS = {"source_system": "native", "synthesized": False}


def copy_frame(*, session: Session, frame: pl.DataFrame) -> int:
    """Append many events at once, by COPY, in the caller's transaction; returns how many.

    ``frame`` has one row per event with columns of ``COPY_SCHEMA`` (``entity_type``,
    ``entity_id``, ``seq``, ``occurred_at`` and ``kind`` at least). For bulk loads, where
    ``append`` per event would be far too slow; the caller numbers ``seq`` so that each
    record's log stays gap-free: a record's first event here follows its last stored one.
    The hashes are computed here, record by record in seq order, before the COPY.
    """
    unknown = set(frame.columns) - set(COPY_SCHEMA)
    missing = set(_COPY_REQUIRED) - set(frame.columns)
    if unknown or missing:
        raise ValueError(
            f"Not columns of the event log: {', '.join(sorted(unknown))}; "
            f"missing: {', '.join(sorted(missing))}"
        )
    if not frame.height:
        return 0
    session.flush()  # rows the session holds (a user an event names) go in first
    session.info.pop(_WRITTEN, None)  # its records' heads move on without append's knowing
    frame = (
        frame.with_columns(
            pl.lit(_COPY_DEFAULTS.get(name), dtype).alias(name)
            for name, dtype in COPY_SCHEMA.items()
            if name not in frame.columns
        )
        .select(list(COPY_SCHEMA))
        .cast(COPY_SCHEMA)
        .with_columns(
            # COPY reads an empty unquoted field as null: empty text is stored as null.
            pl.col(pl.String).replace("", None),
        )
        .sort("entity_type", "entity_id", "seq", maintain_order=True)
    )
    firsts = frame.group_by("entity_type", "entity_id").agg(pl.col("seq").min())
    wanted = firsts.filter(pl.col("seq") > 1)
    stored = _stored_links(session, wanted)
    now = session.scalar(select(func.now()))
    recorded_at = chain.timestamp(now)
    occurred = frame.get_column("occurred_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_list()
    columns = [frame.get_column(name).to_list() for name in chain.FIELDS if name != "recorded_at"]
    prev_hashes: list[str | None] = []
    hashes: list[str] = []
    last_key: tuple[str, int] | None = None
    prev_hash: str | None = None
    for index, (
        entity_type,
        entity_id,
        seq,
        _occurred,
        actor_id,
        actor_label,
        kind,
        field,
        old_value,
        new_value,
        data_text,
        source_system,
        synthesized,
    ) in enumerate(zip(*columns, strict=True)):
        key = (entity_type, entity_id)
        if key != last_key:
            if seq == 1:
                prev_hash = None
            elif (entity_type, entity_id, seq - 1) in stored:
                prev_hash = stored[(entity_type, entity_id, seq - 1)]
            else:
                raise ValueError(
                    f"{entity_type} {entity_id}: seq {seq} follows no stored event; "
                    "number seq after the record's last event"
                )
            last_key = key
        data = json.loads(data_text) if data_text is not None else None
        row = (
            entity_type,
            entity_id,
            seq,
            occurred[index],
            recorded_at,
            actor_id,
            actor_label,
            kind,
            field,
            old_value,
            new_value,
            data,
            source_system,
            synthesized,
        )
        prev_hashes.append(prev_hash)
        prev_hash = chain.row_hash(row, prev_hash)
        hashes.append(prev_hash)
    frame = frame.with_columns(
        pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("recorded_at"),
        pl.Series("prev_hash", prev_hashes, dtype=pl.String),
        pl.Series("hash", hashes, dtype=pl.String),
    )
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%z")
    statement = (
        f"copy {Event.__table__.fullname} ({', '.join(frame.columns)}) from stdin (format csv)"
    )
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(statement) as copy:
            copy.write(buffer.getbuffer())
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


def _stored_links(session: Session, firsts: pl.DataFrame) -> dict[tuple[str, int, int], str]:
    """The stored hash of the event before each (entity_type, entity_id, first seq)."""
    if not firsts.height:
        return {}
    rows = session.execute(
        text(
            """
            select e.entity_type, e.entity_id, e.seq, e.hash
            from unnest(cast(:types as text[]), cast(:ids as bigint[]), cast(:seqs as integer[]))
                as wanted(entity_type, entity_id, seq)
            join operational.events e on e.entity_type = wanted.entity_type
                and e.entity_id = wanted.entity_id and e.seq = wanted.seq - 1
            """
        ),
        {
            "types": firsts.get_column("entity_type").to_list(),
            "ids": firsts.get_column("entity_id").to_list(),
            "seqs": firsts.get_column("seq").to_list(),
        },
    )
    return {(row[0], row[1], row[2]): row[3] for row in rows}
