"""COPY and staging, the event appends, and the SQL that several entities share.

Frames reach PostgreSQL as CSV through COPY: into temporary staging tables (dropped at commit)
for set-based upserts, or straight into a table. Events go only through the events service
(`copy_frame`, which links them into their records' hash chains), whether they come from a
frame or from a query over staged rows.
"""

from __future__ import annotations

import io

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from operational.events import service as events_service

SQL_TYPES = {
    pl.String: "text",
    pl.Int8: "smallint",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.Boolean: "boolean",
}
LIST_SEPARATOR = "\x1f"  # lists travel through COPY joined by the ASCII unit separator


def _sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz"
    if isinstance(dtype, pl.List):
        return "text"
    return SQL_TYPES[dtype.base_type()]


def as_csv(frame: pl.DataFrame) -> memoryview:
    """The frame as COPY reads CSV: no header, nulls as empty fields, ISO times with zone."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
    return buffer.getbuffer()


def copy_into(session: Session, table: str, frame: pl.DataFrame) -> None:
    """COPY the frame into `table`, whose columns it names."""
    raw = session.connection().connection.driver_connection
    columns = ", ".join(frame.columns)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"copy {table} ({columns}) from stdin (format csv)") as copy,
    ):
        copy.write(as_csv(frame))


def stage(session: Session, name: str, frame: pl.DataFrame) -> None:
    """Create a temporary table shaped like `frame` and COPY the frame into it."""
    columns = ", ".join(f'"{column}" {_sql_type(dtype)}' for column, dtype in frame.schema.items())
    # Dropped first: a session joined to an outer transaction (tests) never commits.
    session.execute(text(f"drop table if exists {name}"))
    session.execute(text(f"create temp table {name} ({columns}) on commit drop"))
    if not frame.height:
        return
    lists = [column for column, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    if lists:
        frame = frame.with_columns(pl.col(column).list.join(LIST_SEPARATOR) for column in lists)
    copy_into(session, name, frame)
    # Temporary tables get no statistics from autovacuum; without them the planner picks
    # nested loops over what it thinks are empty tables.
    session.execute(text(f"analyze {name}"))


def count(session: Session, sql: str, **params) -> int:
    return session.execute(text(sql), params).rowcount


def temp_table(session: Session, name: str, select_sql: str, **params) -> None:
    """A temporary table holding the rows of `select_sql`, dropped at commit."""
    session.execute(text(f"drop table if exists {name}"))
    session.execute(text(f"create temp table {name} on commit drop as {select_sql}"), params)


# Columns of the frames `append_events` takes: one event each, written once per import key.
APPEND_SCHEMA = {
    "entity_type": pl.String(),
    "entity_id": pl.Int64(),
    "import_key": pl.String(),  # unique within the entity's log: re-imports skip it
    "ord": pl.Int64(),  # order among the entity's new events
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


def append_events(session: Session, frame: pl.DataFrame | None = None) -> int:
    """Append events to the logs of existing records, each once: an event whose import key the
    record's log already holds is skipped. With no frame, `stage_appends` is already filled.

    They go after whatever the log holds, so its seq stays gap-free. The import key is kept as
    `data.import_key`.
    """
    if frame is not None:
        stage(session, "stage_appends", frame.select(list(APPEND_SCHEMA)).cast(APPEND_SCHEMA))
    return _copy_selected_events(
        session,
        """
        select n.entity_type, n.entity_id,
            coalesce(stored.max_seq, 0)
                + row_number() over (partition by n.entity_type, n.entity_id order by n.ord)
                as seq,
            n.occurred_at, n.actor_id, left(n.actor_label, 200) as actor_label, n.kind, n.field,
            n.old_value, n.new_value,
            coalesce(n.data::jsonb, '{}'::jsonb) || jsonb_build_object('import_key', n.import_key)
                as data,
            n.source_system, n.synthesized
        from stage_appends n
        left join lateral (
            select max(e.seq) as max_seq from operational.events e
            where e.entity_type = n.entity_type and e.entity_id = n.entity_id
        ) stored on true
        where not exists (
            select 1 from operational.events e
            where e.entity_type = n.entity_type and e.entity_id = n.entity_id
              and e.data ->> 'import_key' = n.import_key
        )
        """,
    )


def append_created_events(session: Session, entity_type: str, table: str, ids: list[int]) -> None:
    """A `created` event (seq 1) for each new record, as the API would have written."""
    if not ids:
        return
    label = "number" if table == "changes" else "name"
    opened = "r.opened_at" if table == "changes" else "r.created_at"
    _copy_selected_events(
        session,
        f"""
        select cast(:entity_type as text) as entity_type, r.id as entity_id, 1 as seq,
            coalesce({opened}, now()) as occurred_at, null::bigint as actor_id,
            'import'::text as actor_label, 'created'::text as kind, null::text as field,
            null::text as old_value, r.{label} as new_value, null::jsonb as data,
            r.source_system, false as synthesized
        from operational.{table} r
        where r.id = any(cast(:ids as bigint[]))
          and not exists (
            select 1 from operational.events e
            where e.entity_type = :entity_type and e.entity_id = r.id and e.seq = 1
          )
        """,
        entity_type=entity_type,
        ids=ids,
    )


# The columns of the event rows the loader selects in SQL, in this order and with these names.
EVENT_COLUMNS = (
    "entity_type",
    "entity_id",
    "seq",
    "occurred_at",
    "actor_id",
    "actor_label",
    "kind",
    "field",
    "old_value",
    "new_value",
    "data",
    "source_system",
    "synthesized",
)


def _copy_selected_events(session: Session, select_sql: str, **params) -> int:
    """Write the events `select_sql` selects (the columns `EVENT_COLUMNS`) through the events
    service, the log's one writer: they come out of the database by COPY (times as epoch
    microseconds, exact) into a frame, which the service hashes and COPYs back. Returns how
    many were written."""
    temp_table(session, "selected_events", select_sql, **params)
    selected = ", ".join(
        "(extract(epoch from occurred_at) * 1000000)::bigint"
        if column == "occurred_at"
        else "synthesized::integer"
        if column == "synthesized"
        else f"{column}::text"
        if column == "data"
        else column
        for column in EVENT_COLUMNS
    )
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(
            f"copy (select {selected} from selected_events) to stdout (format csv)"
        ) as copy,
    ):
        data = b"".join(copy)
    if not data:
        return 0
    schema = {
        column: pl.Int64
        if column in ("entity_id", "seq", "occurred_at", "actor_id", "synthesized")
        else pl.String
        for column in EVENT_COLUMNS
    }
    frame = pl.read_csv(
        data, has_header=False, new_columns=list(EVENT_COLUMNS), schema=schema
    ).with_columns(
        pl.col("occurred_at").cast(pl.Datetime("us", "UTC")),
        pl.col("synthesized").cast(pl.Boolean),
    )
    return events_service.copy_frame(session=session, frame=frame)


# People and teams arrive as labels, from incidents, changes, CAB decisions and CIs alike.


def upsert_people(session: Session, source_system: str, labels_sql: str) -> None:
    session.execute(
        text(
            f"""
            insert into operational.users (display_name, source_system, external_id)
            select distinct left(label, 200), :source_system, left(label, 200)
            from ({labels_sql}) as labels(label)
            where label is not null
            on conflict (source_system, external_id) do nothing
            """
        ),
        {"source_system": source_system},
    )


def upsert_teams(session: Session, names_sql: str) -> None:
    session.execute(
        text(
            f"""
            insert into operational.teams (name)
            select distinct left(name, 200) from ({names_sql}) as names(name)
            where name is not null
            on conflict (name) do nothing
            """
        )
    )


def person_join(alias: str, column: str) -> str:
    return (
        f"left join operational.users {alias} on {alias}.source_system = s.source_system "
        f"and {alias}.external_id = left(s.{column}, 200)"
    )
