"""Load canonical frames into the operational tables: COPY into temporary staging tables, then
set-based upserts, one transaction per batch.

Idempotent: tickets are keyed on (source_system, external_id), events on (ticket, seq); a
re-import changes nothing and a later, longer export adds only what is new. A batch is whole
or absent, so an import killed halfway is completed by running it again.

People and groups arrive as labels: people become users of the source system (no password, no
login) keyed by their label; groups are teams matched by name (created if missing), and each
(group, assignee) pair seen on a current ticket makes the assignee a member of the team.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from multiprocessing import get_context
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from ingest import rejects
from ingest.parsed import ParsedExport
from ingest.rejects import write_rejects_csv, write_rejects_json
from operational.cmdb import graph as cmdb_graph
from operational.events import service as events_service

DEFAULT_BATCH_EVENTS = 100_000
SQL_TYPES = {
    pl.String: "text",
    pl.Int8: "smallint",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.Boolean: "boolean",
}
LIST_SEPARATOR = "\x1f"  # lists travel through COPY joined by the ASCII unit separator

Progress = Callable[[int, int], None]  # (tickets done, tickets total)


@dataclass
class EntityCounts:
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0  # rows the database state rules out (a cycle, a self-approval): rejects

    def add(self, other: EntityCounts) -> None:
        self.loaded += other.loaded
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.refused += other.refused


@dataclass
class LoadReport:
    source: str
    source_system: str
    path: Path
    dry_run: bool
    rows_read: int
    parse_rejected: int
    parse_skipped: int
    counts: dict[str, EntityCounts] = field(default_factory=dict)
    batches: int = 0
    # Processes that loaded the ticket batches (1: all in the calling process).
    workers: int = 1
    run_id: int | None = None
    rejects_path: Path | None = None
    incident_ids: list[int] = field(default_factory=list)
    # Rows refused while loading, as rejects whose `_row` is the row's index in its frame.
    refusals: list[pl.DataFrame] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Rows rejected by the parser plus rows refused by the loader."""
        return self.parse_rejected + sum(count.refused for count in self.counts.values())

    @property
    def loaded(self) -> int:
        return sum(count.loaded for count in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(count.updated for count in self.counts.values())

    @property
    def skipped(self) -> int:
        """Rows left out on purpose by the parser plus records already present, unchanged."""
        return self.parse_skipped + sum(count.unchanged for count in self.counts.values())

    def summary(self) -> dict[str, int]:
        return {
            "read": self.rows_read,
            "loaded": self.loaded,
            "updated": self.updated,
            "rejected": self.rejected,
            "skipped": self.skipped,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- COPY -----------------------------------------------------------------------------------


def _sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz"
    if isinstance(dtype, pl.List):
        return "text"
    return SQL_TYPES[dtype.base_type()]


def _stage(session: Session, name: str, frame: pl.DataFrame) -> None:
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
    _copy_into(session, name, frame)
    # Temporary tables get no statistics from autovacuum; without them the planner picks
    # nested loops over what it thinks are empty tables.
    session.execute(text(f"analyze {name}"))


def _count(session: Session, sql: str, **params) -> int:
    return session.execute(text(sql), params).rowcount


def _temp_table(session: Session, name: str, select_sql: str, **params) -> None:
    """A temporary table holding the rows of `select_sql`, dropped at commit."""
    session.execute(text(f"drop table if exists {name}"))
    session.execute(text(f"create temp table {name} on commit drop as {select_sql}"), params)


REFUSAL_SCHEMA = {
    "entity": pl.String(),
    "_row": pl.Int64(),
    "column": pl.String(),
    "reason": pl.String(),
    "value": pl.String(),
    "external_id": pl.String(),
    "detail": pl.String(),
}


def _refuse(
    session: Session,
    report: LoadReport,
    *,
    entity: str,
    rows_sql: str,
    column: str,
    reason: str,
    detail: str,
) -> int:
    """Record as rejects the staged rows `rows_sql` selects (as `_row, value, external_id`)."""
    rows = session.execute(text(rows_sql)).all()
    if rows:
        found = pl.DataFrame(
            [tuple(row) for row in rows],
            schema={"_row": pl.Int64, "value": pl.String, "external_id": pl.String},
            orient="row",
        )
        report.refusals.append(
            found.select(
                pl.lit(entity).alias("entity"),
                "_row",
                pl.lit(column).alias("column"),
                pl.lit(reason).alias("reason"),
                "value",
                "external_id",
                pl.lit(detail).alias("detail"),
            )
        )
    return len(rows)


# Columns of the frames `_append_events` takes: one event each, written once per import key.
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


def _append_events(session: Session, frame: pl.DataFrame | None = None) -> int:
    """Append events to the logs of existing records, each once: an event whose import key the
    record's log already holds is skipped. With no frame, `stage_appends` is already filled.

    They go after whatever the log holds, so its seq stays gap-free. The import key is kept as
    `data.import_key`.
    """
    if frame is not None:
        _stage(session, "stage_appends", frame.select(list(APPEND_SCHEMA)).cast(APPEND_SCHEMA))
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
    service, the log's one writer: they come out of the database and go back in as CSV bytes,
    never decoded here. Returns how many were written."""
    _temp_table(session, "selected_events", select_sql, **params)
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(
            f"copy selected_events ({', '.join(EVENT_COLUMNS)}) to stdout (format csv)"
        ) as copy,
    ):
        data = b"".join(copy)
    return events_service.copy_csv(session=session, columns=EVENT_COLUMNS, data=data)


# --- shared SQL ------------------------------------------------------------------------------


def _upsert_people(session: Session, source_system: str, labels_sql: str) -> None:
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


def _upsert_teams(session: Session, names_sql: str) -> None:
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


def _person(alias: str, column: str) -> str:
    return (
        f"left join operational.users {alias} on {alias}.source_system = s.source_system "
        f"and {alias}.external_id = left(s.{column}, 200)"
    )


# --- incidents and events -------------------------------------------------------------------

# The incident columns an import writes, in COPY order.
_INCIDENT_COLUMNS = (
    "title",
    "description",
    "requester_id",
    "opened_by_id",
    "channel",
    "category",
    "subcategory",
    "service",
    "configuration_item",
    "location",
    "impact",
    "urgency",
    "priority",
    "assignment_group_id",
    "assignee_id",
    "state",
    "hold_reason",
    "resolution_code",
    "resolution_notes",
    "opened_at",
    "resolved_at",
    "closed_at",
    "updated_at",
    "acknowledged_at",
    "first_assignee_id",
    "first_assignment_group_id",
    "first_assigned_at",
    "first_resolved_at",
    "reopen_count",
    "reassignment_count",
    "source_made_sla",
    "problem_ref",
    "change_ref",
    "ci_id",
    "caused_by_change_id",
)
# label column of the canonical frame -> id column of the incident
_PEOPLE = (
    ("requester", "requester_id"),
    ("opened_by", "opened_by_id"),
    ("assignee", "assignee_id"),
    ("_first_assignee", "first_assignee_id"),
)
_GROUPS = (
    ("assignment_group", "assignment_group_id"),
    ("_first_group", "first_assignment_group_id"),
)
LABEL_LENGTH = 200  # users.external_id, teams.name, configuration_items.external_id


def _label(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, LABEL_LENGTH)


def _with_firsts(incidents: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """First response (first public comment or move to in_progress) and first assignee, from
    the full history the export carries."""
    kind, value, when = pl.col("kind"), pl.col("new_value"), pl.col("occurred_at")
    touched = (kind.eq("state_changed") & value.eq("in_progress")) | kind.eq("comment_added")
    assigned = kind.eq("assigned") & value.is_not_null()
    to_person = assigned & pl.col("field").eq("assignee")
    to_group = assigned & pl.col("field").eq("assignment_group")
    resolved = kind.eq("state_changed") & value.eq("resolved")

    def first(condition: pl.Expr, column: pl.Expr) -> pl.Expr:
        # events arrive sorted by ticket and seq, so the first match is the earliest
        return column.filter(condition).first()

    firsts = events.group_by("external_id", maintain_order=True).agg(
        when.filter(touched).min().alias("_acknowledged_at"),
        first(to_person, value).alias("_first_assignee"),
        first(to_group, value).alias("_first_group"),
        first(assigned, when).alias("_first_assigned_at"),
        first(resolved, when).alias("_first_resolved_at"),
    )
    return incidents.join(firsts, on="external_id", how="left", maintain_order="left")


def _load_people_and_teams(
    session: Session, incidents: pl.DataFrame, events: pl.DataFrame, source_system: str
) -> None:
    """Every person and group the incidents and their histories name, and each (group, assignee)
    pair of a current ticket as a team membership. Done once per import, before the ticket
    batches, so that parallel batches only read these rows and never wait on each other."""
    assigned = events.filter(pl.col("kind") == "assigned", pl.col("new_value").is_not_null())
    people = pl.concat(
        [
            incidents.select(pl.col(column).alias("label"))
            for column in ("requester", "opened_by", "assignee")
        ]
        + [
            assigned.filter(pl.col("field") == "assignee").select(
                pl.col("new_value").alias("label")
            )
        ]
    )
    groups = pl.concat(
        [
            incidents.select(pl.col("assignment_group").alias("label")),
            assigned.filter(pl.col("field") == "assignment_group").select(
                pl.col("new_value").alias("label")
            ),
        ]
    )
    _stage(session, "stage_people", people.drop_nulls().unique())
    _stage(session, "stage_groups", groups.drop_nulls().unique())
    _stage(
        session,
        "stage_members",
        incidents.select("assignment_group", "assignee").drop_nulls().unique(),
    )
    _upsert_people(session, source_system, "select label from stage_people")
    _upsert_teams(session, "select label from stage_groups")
    session.execute(
        text(
            """
            insert into operational.team_members (team_id, user_id)
            select distinct team.id, person.id
            from stage_members s
            join operational.teams team on team.name = left(s.assignment_group, 200)
            join operational.users person on person.source_system = :source_system
                and person.external_id = left(s.assignee, 200)
            on conflict do nothing
            """
        ),
        {"source_system": source_system},
    )


def _lookup(session: Session, sql: str, labels: pl.Series, **params) -> tuple[list, list]:
    """(labels, ids) for the distinct non-null `labels` that `sql` (over :labels) finds."""
    distinct = labels.drop_nulls().unique().to_list()
    if not distinct:
        return [], []
    rows = session.execute(text(sql), {"labels": distinct, **params}).all()
    return [row[0] for row in rows], [row[1] for row in rows]


def _resolve(column: str, found: tuple[list, list]) -> pl.Expr:
    labels, ids = found
    return _label(column).replace_strict(labels, ids, default=None, return_dtype=pl.Int64)


def _incident_rows(session: Session, incidents: pl.DataFrame, source_system: str) -> pl.DataFrame:
    """The operational rows of canonical incidents (with their first-touch facts): labels
    become ids, defaults and length limits applied, as the API would store them."""
    from operational.incidents.priority import matrix

    people = _lookup(
        session,
        "select external_id, id from operational.users "
        "where source_system = :source_system and external_id = any(:labels)",
        pl.concat([incidents.select(_label(column)).to_series() for column, _ in _PEOPLE]),
        source_system=source_system,
    )
    teams = _lookup(
        session,
        "select name, id from operational.teams where name = any(:labels)",
        pl.concat([incidents.select(_label(column)).to_series() for column, _ in _GROUPS]),
    )
    # The CI label is a CI's external id (any source system, this one first) or its name.
    cis = _lookup(
        session,
        """
        select label, ci.id from unnest(cast(:labels as text[])) as labels(label)
        cross join lateral (
            select c.id from operational.configuration_items c
            where c.external_id = label or lower(c.name) = lower(label)
            order by c.external_id = label desc, c.source_system = :source_system desc, c.id
            limit 1
        ) ci
        """,
        incidents.select(_label("ci")).to_series(),
        source_system=source_system,
    )
    changes = _lookup(
        session,
        "select external_id, id from operational.changes "
        "where source_system = :source_system and external_id = any(:labels)",
        incidents.select(_label("change_ref")).to_series(),
        source_system=source_system,
    )
    combined = {
        impact * 10 + urgency: priority
        for impact, row in enumerate(matrix(), start=1)
        for urgency, priority in enumerate(row, start=1)
    }
    impact = pl.col("impact").fill_null(2)
    urgency = pl.col("urgency").fill_null(2)
    by_matrix = (impact.cast(pl.Int32) * 10 + urgency).replace_strict(
        combined, return_dtype=pl.Int8
    )
    return incidents.select(
        pl.col("source_system"),
        _label("external_id").alias("external_id"),
        pl.coalesce("title", "number").str.slice(0, 300).alias("title"),
        "description",
        *(_resolve(column, people).alias(target) for column, target in _PEOPLE[:2]),
        pl.col("channel").fill_null("portal"),
        pl.col("category").str.slice(0, 120),
        pl.col("subcategory").str.slice(0, 120),
        _label("service").alias("service"),
        _label("ci").alias("configuration_item"),
        _label("location").alias("location"),
        impact.alias("impact"),
        urgency.alias("urgency"),
        pl.coalesce("priority", by_matrix).alias("priority"),
        _resolve("assignment_group", teams).alias("assignment_group_id"),
        _resolve("assignee", people).alias("assignee_id"),
        "state",
        "hold_reason",
        pl.col("resolution_code").str.slice(0, 120),
        "resolution_notes",
        "opened_at",
        "resolved_at",
        "closed_at",
        pl.coalesce("updated_at", "opened_at").alias("updated_at"),
        pl.col("_acknowledged_at").alias("acknowledged_at"),
        _resolve("_first_assignee", people).alias("first_assignee_id"),
        _resolve("_first_group", teams).alias("first_assignment_group_id"),
        pl.col("_first_assigned_at").alias("first_assigned_at"),
        pl.col("_first_resolved_at").alias("first_resolved_at"),
        pl.col("reopen_count").fill_null(0),
        pl.col("reassignment_count").fill_null(0),
        "source_made_sla",
        pl.col("problem_ref").str.slice(0, 64),
        pl.col("change_ref").str.slice(0, 64),
        _resolve("ci", cis).alias("ci_id"),
        _resolve("change_ref", changes).alias("caused_by_change_id"),
    )


def _load_incidents(
    session: Session, incidents: pl.DataFrame, events: pl.DataFrame, source_system: str
) -> tuple[dict[str, EntityCounts], list[int]]:
    """New tickets are COPYed straight into the incidents table (ids and numbers drawn from
    their sequences first); tickets already imported are staged and updated where a column
    changed. Returns the counts and the ids of the incidents inserted or changed."""
    rows = _incident_rows(session, _with_firsts(incidents, events), source_system)
    stored = session.execute(
        text(
            "select external_id, id from operational.incidents "
            "where source_system = :source_system and external_id = any(:keys)"
        ),
        {"source_system": source_system, "keys": rows.get_column("external_id").to_list()},
    ).all()
    known = pl.DataFrame(
        [tuple(row) for row in stored],
        schema={"external_id": pl.String, "id": pl.Int64},
        orient="row",
    )
    new = rows.join(known, on="external_id", how="anti", maintain_order="left")
    inserted_ids: list[int] = []
    if new.height:
        drawn = session.execute(
            text(
                """
                select nextval(pg_get_serial_sequence('operational.incidents', 'id')),
                       'INC' || lpad(nextval('operational.incident_number_seq')::text, 7, '0')
                from generate_series(1, :count)
                """
            ),
            {"count": new.height},
        ).all()
        inserted_ids = [row[0] for row in drawn]
        new = new.select(
            pl.Series("id", inserted_ids, dtype=pl.Int64),
            pl.Series("number", [row[1] for row in drawn], dtype=pl.String),
            "source_system",
            "external_id",
            *_INCIDENT_COLUMNS,
        )
        _copy_into(session, "operational.incidents", new)
    updated_ids: list[int] = []
    existing = rows.join(known, on="external_id", how="inner", maintain_order="left")
    if existing.height:
        _stage(session, "stage_incidents", existing.select("id", *_INCIDENT_COLUMNS))
        columns = ", ".join(_INCIDENT_COLUMNS)
        values = ", ".join(f"s.{column}" for column in _INCIDENT_COLUMNS)
        updated_ids = list(
            session.execute(
                text(
                    f"""
                    update operational.incidents i
                    set ({columns}) = ({values}), version = i.version + 1
                    from stage_incidents s
                    where i.id = s.id
                      and ({", ".join(f"i.{column}" for column in _INCIDENT_COLUMNS)})
                          is distinct from ({values})
                    returning i.id
                    """
                )
            ).scalars()
        )
    incident_counts = EntityCounts(
        loaded=len(inserted_ids),
        updated=len(updated_ids),
        unchanged=incidents.height - len(inserted_ids) - len(updated_ids),
    )
    ids = pl.concat(
        [
            new.select("external_id", "id") if new.height else known.clear(),
            known,
        ]
    )
    new_events = _insert_events(session, events, ids, set(inserted_ids))
    _copy_comments(session, events, source_system)
    event_counts = EntityCounts(loaded=new_events, unchanged=events.height - new_events)
    return {"incidents": incident_counts, "events": event_counts}, [*updated_ids, *inserted_ids]


def _insert_events(
    session: Session, events: pl.DataFrame, ids: pl.DataFrame, new_incidents: set[int]
) -> int:
    """Append the events each ticket does not have yet, by COPY straight into the event log.

    The import's own position of an event (its `seq` in the canonical frame) is kept as
    `data.import_seq`; the idempotence key is (ticket, import_seq). Histories are
    prefix-stable, so the new events of a ticket are those past the highest import_seq stored.
    They are appended after whatever the ticket's log already holds (SLA transitions written by
    the backfill, an agent's comment), so the log's own seq stays gap-free and unique. A ticket
    inserted in this batch has no log yet: its events keep their own seq.
    """
    if not events.height:
        return 0
    earlier = [entity for entity in ids.get_column("id").to_list() if entity not in new_incidents]
    positions = session.execute(
        text(
            """
            select e.entity_id, max(e.seq) as max_seq,
                   coalesce(max((e.data ->> 'import_seq')::integer), 0) as max_import_seq
            from operational.events e
            where e.entity_type = 'incident' and e.entity_id = any(cast(:ids as bigint[]))
            group by e.entity_id
            """
        ),
        {"ids": earlier},
    ).all()
    stored = pl.DataFrame(
        [tuple(row) for row in positions],
        schema={"id": pl.Int64, "max_seq": pl.Int64, "max_import_seq": pl.Int64},
        orient="row",
    )
    new = (
        events.join(ids, on="external_id", how="inner")
        .join(stored, on="id", how="left")
        .with_columns(pl.col("max_seq", "max_import_seq").fill_null(0))
        .filter(pl.col("seq") > pl.col("max_import_seq"))
        .select(
            pl.lit("incident").alias("entity_type"),
            pl.col("id").alias("entity_id"),
            (pl.col("max_seq") + pl.col("seq") - pl.col("max_import_seq")).alias("seq"),
            "occurred_at",
            pl.col("actor").str.slice(0, 200).alias("actor_label"),
            "kind",
            pl.col("field").str.slice(0, 64),
            "old_value",
            "new_value",
            pl.format('{{"import_seq": {}}}', pl.col("seq")).alias("data"),
            "source_system",
            "synthesized",
        )
    )
    if new.height:
        events_service.copy_csv(session=session, columns=new.columns, data=_csv(new))
    return new.height


def _csv(frame: pl.DataFrame) -> memoryview:
    """The frame as COPY reads CSV: no header, nulls as empty fields, ISO times with zone."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
    return buffer.getbuffer()


def _copy_into(session: Session, table: str, frame: pl.DataFrame) -> None:
    raw = session.connection().connection.driver_connection
    columns = ", ".join(frame.columns)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"copy {table} ({columns}) from stdin (format csv)") as copy,
    ):
        copy.write(_csv(frame))


def _copy_comments(session: Session, events: pl.DataFrame, source_system: str) -> None:
    """Imported comments and work notes also become comment rows, so the API lists them."""
    comments = events.filter(
        pl.col("kind").is_in(["comment_added", "work_note_added"]),
        pl.col("new_value").is_not_null(),
    ).select("source_system", "external_id", "occurred_at", "actor", "kind", "new_value")
    if not comments.height:
        return
    _stage(session, "stage_comments", comments)
    session.execute(
        text(
            """
            insert into operational.incident_comments (incident_id, author_id, is_public, body,
                created_at)
            select i.id, author.id, e.kind = 'comment_added', e.new_value, e.occurred_at
            from stage_comments e
            join operational.incidents i
              on i.source_system = e.source_system and i.external_id = left(e.external_id, 200)
            left join operational.users author on author.source_system = e.source_system
              and author.external_id = left(e.actor, 200)
            where not exists (
                select 1 from operational.incident_comments c
                where c.incident_id = i.id and c.created_at = e.occurred_at
                  and c.body = e.new_value
              )
            """
        )
    )


def backfill_sla(
    engine: Engine | Connection,
    incident_ids: list[int],
    chunk: int = 5_000,
    workers: int | None = None,
) -> None:
    """SLA timers for incidents loaded with `sla_backfill=False`, one transaction per chunk of
    incidents; the chunks run in `workers` processes (default: `default_workers()`)."""
    chunks = [incident_ids[start : start + chunk] for start in range(0, len(incident_ids), chunk)]
    workers = default_workers() if workers is None else workers
    if workers > 1 and len(chunks) > 1 and isinstance(engine, Engine) and workers_possible():
        url = engine.url.render_as_string(hide_password=False)
        workers = min(workers, len(chunks))
        pool = _process_pool(workers)
        try:
            _run_in_pool(
                pool,
                workers * 2,
                [partial(_backfill_in_worker, url, ids) for ids in chunks],
                [len(ids) for ids in chunks],
                None,
                lambda size, result: None,
            )
        finally:
            pool.shutdown(cancel_futures=True)
        return
    for ids in chunks:
        _run_batch(engine, False, lambda s, ids=ids: _backfill_sla(s, ids))


def _backfill_in_worker(url: str, incident_ids: list[int]) -> None:
    _run_batch(_worker_engine(url), False, lambda session: _backfill_sla(session, incident_ids))


def _backfill_sla(session: Session, incident_ids: list[int]) -> None:
    """Timers for imported incidents come from the one SLA engine, computed from their events."""
    if not incident_ids:
        return
    from operational.incidents.models import Incident  # noqa: F401  (mapper configuration)
    from operational.sla import service as sla_service

    sla_service.backfill(session=session, incident_ids=incident_ids)


# --- CSAT -----------------------------------------------------------------------------------


def _load_csat(session: Session, csat: pl.DataFrame) -> EntityCounts:
    """Answers become answered surveys of the imported incidents, each with the incident's
    `csat_answered` event, as the survey link writes it."""
    _stage(session, "stage_csat", csat)
    # The token of an imported answer is never handed out: its hash is derived from the key,
    # which also makes the insert idempotent.
    new_ids = (
        session.execute(
            text(
                """
                insert into operational.csat_surveys (incident_id, requester_id, token_hash,
                    opened_at, expires_at, answered_at, rating, comment)
                select i.id, i.requester_id,
                    encode(sha256(convert_to('import:' || s.source_system || ':' || s.external_id,
                        'UTF8')), 'hex'),
                    coalesce(i.resolved_at, s.answered_at), s.answered_at, s.answered_at,
                    s.rating, s.comment
                from stage_csat s
                join operational.incidents i
                  on i.source_system = s.source_system and i.external_id = left(s.external_id, 200)
                on conflict (token_hash) do nothing
                returning id
                """
            )
        )
        .scalars()
        .all()
    )
    if new_ids:
        _temp_table(
            session,
            "stage_appends",
            """
            select distinct on (survey.id)
                'incident'::text as entity_type, survey.incident_id as entity_id,
                'csat:' || survey.id as import_key, survey.id as ord,
                survey.answered_at as occurred_at, survey.requester_id as actor_id,
                coalesce(left(s.respondent, 200), requester.display_name, 'survey')
                    as actor_label,
                'csat_answered'::text as kind, null::text as field, null::text as old_value,
                survey.rating::text as new_value,
                jsonb_build_object('survey_id', survey.id, 'rating', survey.rating,
                    'comment', survey.comment)::text as data,
                s.source_system, false as synthesized
            from operational.csat_surveys survey
            join operational.incidents i on i.id = survey.incident_id
            join stage_csat s
              on s.source_system = i.source_system and left(s.external_id, 200) = i.external_id
            left join operational.users requester on requester.id = survey.requester_id
            where survey.id = any(cast(:ids as bigint[]))
            order by survey.id, s.answered_at desc
            """,
            ids=list(new_ids),
        )
        _append_events(session)
    return EntityCounts(loaded=len(new_ids), unchanged=csat.height - len(new_ids))


# --- CMDB and changes -----------------------------------------------------------------------


def _created_events(session: Session, entity_type: str, table: str, ids: list[int]) -> None:
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


def _load_configuration_items(
    session: Session, cis: pl.DataFrame, report: LoadReport
) -> EntityCounts:
    """CIs upsert on (source system, external id). Their attributes are checked against their
    class's schema by the CMDB's own check (`cmdb.service.attribute_errors`), as the API does;
    a CI whose attributes break it is refused. A class the CMDB does not know is created with
    an empty schema (which accepts any attributes)."""
    _stage(session, "stage_cis", cis.with_row_index("_row").cast({"_row": pl.Int64}))
    session.execute(
        text(
            """
            insert into operational.ci_classes (name, label, attribute_schema)
            select distinct left(ci_class, 64), left(ci_class, 120), '{}'::jsonb from stage_cis
            on conflict (name) do nothing
            """
        )
    )
    refused = _refuse_invalid_attributes(session, cis, report)
    _upsert_teams(session, "select owner_group from stage_cis")
    source = """
        select s.source_system, left(s.external_id, 200) as external_id,
            left(s.name, 200) as name, class.id as class_id,
            coalesce(s.status, 'in_service') as status,
            coalesce(s.environment, 'production') as environment, team.id as owner_team_id,
            left(s.location, 200) as location, coalesce(s.criticality, 3) as criticality,
            coalesce(s.attributes::jsonb, '{}'::jsonb) as attributes
        from stage_cis s
        join operational.ci_classes class on class.name = left(s.ci_class, 64)
        left join operational.teams team on team.name = left(s.owner_group, 200)
        where s._row <> all(cast(:refused as bigint[]))
    """
    columns = (
        "name",
        "class_id",
        "status",
        "environment",
        "owner_team_id",
        "location",
        "criticality",
        "attributes",
    )
    target = ", ".join(columns)
    values = ", ".join(f"src.{column}" for column in columns)
    updated = _count(
        session,
        f"""
        with src as ({source})
        update operational.configuration_items c
        set ({target}) = ({values}), version = c.version + 1, updated_at = now()
        from src
        where c.source_system = src.source_system and c.external_id = src.external_id
          and ({", ".join(f"c.{column}" for column in columns)}) is distinct from ({values})
        """,
        refused=refused,
    )
    inserted_ids = (
        session.execute(
            text(
                f"""
            with src as ({source})
            insert into operational.configuration_items (source_system, external_id, {target})
            select src.source_system, src.external_id, {values} from src
            where not exists (
                select 1 from operational.configuration_items c
                where c.source_system = src.source_system and c.external_id = src.external_id
            )
            returning id
            """
            ),
            {"refused": refused},
        )
        .scalars()
        .all()
    )
    _created_events(session, "ci", "configuration_items", list(inserted_ids))
    return EntityCounts(
        loaded=len(inserted_ids),
        updated=updated,
        unchanged=cis.height - len(refused) - len(inserted_ids) - updated,
        refused=len(refused),
    )


def _refuse_invalid_attributes(
    session: Session, cis: pl.DataFrame, report: LoadReport
) -> list[int]:
    """The rows (their index in `cis`) whose attributes are not a JSON object or break their
    class's schema; recorded as rejects. Each distinct (class, attributes) is checked once."""
    from operational.cmdb.service import attribute_errors

    schemas = dict(
        session.execute(
            text(
                "select name, attribute_schema from operational.ci_classes where name = any(:names)"
            ),
            {"names": cis.get_column("ci_class").str.slice(0, 64).unique().to_list()},
        ).all()
    )
    checked = cis.with_row_index("_row").select(
        pl.col("_row").cast(pl.Int64),
        pl.col("ci_class").str.slice(0, 64).alias("class"),
        pl.col("attributes").fill_null("{}"),
        "external_id",
    )
    problems: dict[tuple[str, str], str | None] = {}
    for ci_class, attributes in checked.select("class", "attributes").unique().iter_rows():
        try:
            value = json.loads(attributes)
        except ValueError:
            problems[(ci_class, attributes)] = "not valid JSON"
            continue
        if not isinstance(value, dict):
            problems[(ci_class, attributes)] = "not a JSON object"
            continue
        errors = attribute_errors(schemas.get(ci_class) or {}, value)
        problems[(ci_class, attributes)] = (
            f"class {ci_class!r}: {errors[0]['path']}: {errors[0]['message']}" if errors else None
        )
    bad = [
        (row, attributes, external_id, problems[(ci_class, attributes)])
        for row, ci_class, attributes, external_id in checked.iter_rows()
        if problems[(ci_class, attributes)] is not None
    ]
    if bad:
        report.refusals.append(
            pl.DataFrame(
                {
                    "entity": "configuration_items",
                    "_row": [row for row, *_ in bad],
                    "column": "attributes",
                    "reason": rejects.INVALID_ATTRIBUTES,
                    "value": [attributes for _, attributes, *_ in bad],
                    "external_id": [external_id for *_, external_id, _ in bad],
                    "detail": [problem for *_, problem in bad],
                },
                schema=REFUSAL_SCHEMA,
            )
        )
    return [row for row, *_ in bad]


_CI_BY_KEY = """
    (select c.id from operational.configuration_items c
     where c.external_id = left({column}, 200)
     order by (c.source_system = {source}) desc, c.id limit 1)
"""


def _load_ci_relationships(
    session: Session, relationships: pl.DataFrame, report: LoadReport
) -> EntityCounts:
    """Relationships find their CIs by external id (preferring the same source system). As in
    the API, one that would close a loop where its type forbids loops is refused: the rows
    are taken in file order and a row is refused when its target already reaches its source.
    Each new relationship is logged on both CIs (`relationship_added`)."""
    from operational.cmdb.enums import ACYCLIC_TYPES

    _stage(
        session,
        "stage_relationships",
        relationships.with_row_index("_row").cast({"_row": pl.Int64}),
    )
    _temp_table(
        session,
        "resolved_relationships",
        f"""
        select s._row, s.source_system, s.relationship_type as type, s.ci_external_id,
            s.related_ci_external_id,
            {_CI_BY_KEY.format(column="s.ci_external_id", source="s.source_system")} as source_ci,
            {_CI_BY_KEY.format(column="s.related_ci_external_id", source="s.source_system")}
                as target_ci
        from stage_relationships s
        """,
    )
    refused = _refuse(
        session,
        report,
        entity="ci_relationships",
        rows_sql="select _row, ci_external_id, ci_external_id from resolved_relationships "
        "where source_ci is null",
        column="ci_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail="no CI with this id",
    )
    refused += _refuse(
        session,
        report,
        entity="ci_relationships",
        rows_sql="select _row, related_ci_external_id, ci_external_id from resolved_relationships "
        "where source_ci is not null and target_ci is null",
        column="related_ci_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail="no CI with this id",
    )
    refused += _refuse(
        session,
        report,
        entity="ci_relationships",
        rows_sql="select _row, related_ci_external_id, ci_external_id from resolved_relationships "
        "where source_ci = target_ci",
        column="related_ci_external_id",
        reason=rejects.CYCLE,
        detail="a CI cannot be related to itself",
    )
    # The rows that are new: known CIs, not yet related so, first of their duplicates.
    _temp_table(
        session,
        "new_relationships",
        """
        select distinct on (source_ci, type, target_ci) _row, source_system, type, source_ci,
            target_ci, ci_external_id
        from resolved_relationships r
        where source_ci is not null and target_ci is not null and source_ci <> target_ci
          and not exists (
            select 1 from operational.ci_relationships e
            where e.source_ci_id = r.source_ci and e.type = r.type and e.target_ci_id = r.target_ci
          )
        order by source_ci, type, target_ci, _row
        """,
    )
    cycles = _closing_cycles(session, sorted(kind.value for kind in ACYCLIC_TYPES))
    if cycles:
        refused += _refuse(
            session,
            report,
            entity="ci_relationships",
            rows_sql="select n._row, n.type, n.ci_external_id from new_relationships n "
            f"where n._row in ({', '.join(str(row) for row in cycles)})",
            column="relationship_type",
            reason=rejects.CYCLE,
            detail="it would close a loop of this type",
        )
        session.execute(
            text("delete from new_relationships where _row = any(cast(:rows as bigint[]))"),
            {"rows": cycles},
        )
    added = (
        session.execute(
            text(
                """
            insert into operational.ci_relationships (source_ci_id, type, target_ci_id,
                source_system)
            select source_ci, type, target_ci, source_system from new_relationships
            on conflict (source_ci_id, type, target_ci_id) do nothing
            returning id
            """
            )
        )
        .scalars()
        .all()
    )
    if added:
        _temp_table(
            session,
            "stage_appends",
            """
            select 'ci'::text as entity_type, ends.ci_id as entity_id,
                'relationship:' || r.id || ':' || ends.role as import_key, r.id as ord,
                r.created_at as occurred_at, null::bigint as actor_id,
                'import'::text as actor_label,
                'relationship_added'::text as kind, 'relationship'::text as field,
                null::text as old_value,
                source.name || ' ' || r.type || ' ' || target.name as new_value,
                jsonb_build_object('relationship_id', r.id, 'type', r.type,
                    'source_ci_id', r.source_ci_id, 'target_ci_id', r.target_ci_id,
                    'role', ends.role)::text as data,
                r.source_system, false as synthesized
            from operational.ci_relationships r
            join operational.configuration_items source on source.id = r.source_ci_id
            join operational.configuration_items target on target.id = r.target_ci_id
            cross join lateral (values (r.source_ci_id, 'source'), (r.target_ci_id, 'target'))
                as ends(ci_id, role)
            where r.id = any(cast(:ids as bigint[]))
            """,
            ids=list(added),
        )
        _append_events(session)
    return EntityCounts(
        loaded=len(added),
        unchanged=relationships.height - refused - len(added),
        refused=refused,
    )


def _closing_cycles(session: Session, acyclic_types: list[str]) -> list[int]:
    """The rows of `new_relationships` to refuse because they would close a loop.

    Set-based first: one recursive walk from the targets of all new relationships of a type
    that forbids loops, over the stored and the new relationships of that type. When no new
    relationship's source is reached, none closes a loop (the usual case). Otherwise the rows
    of the types concerned are replayed in file order over the part of the graph the walk
    reached, as the API would have taken them one by one.
    """
    reached = session.execute(
        text(
            """
            with recursive edges as (
                select source_ci_id as source, type, target_ci_id as target
                from operational.ci_relationships where type = any(:types)
                union all
                select source_ci, type, target_ci from new_relationships
                where type = any(:types)
            ),
            reach(type, ci_id) as (
                select distinct type, target_ci from new_relationships where type = any(:types)
                union
                select e.type, e.target from reach r
                join edges e on e.source = r.ci_id and e.type = r.type
            )
            select type, array_agg(ci_id) from reach
            where type in (
                select n.type from new_relationships n
                join reach r on r.type = n.type and r.ci_id = n.source_ci
            )
            group by type
            """
        ),
        {"types": acyclic_types},
    ).all()
    refused: list[int] = []
    for kind, nodes in reached:
        graph: cmdb_graph.Graph = {}
        for source, target in session.execute(
            text(
                "select source_ci_id, target_ci_id from operational.ci_relationships "
                "where type = :type and source_ci_id = any(cast(:nodes as bigint[]))"
            ),
            {"type": kind, "nodes": nodes},
        ):
            graph.setdefault(source, set()).add(target)
        rows = session.execute(
            text(
                "select _row, source_ci, target_ci from new_relationships where type = :type "
                "order by _row"
            ),
            {"type": kind},
        ).all()
        refused += cmdb_graph.add_without_loops(graph, rows)
    return refused


_CHANGE_COLUMNS = (
    "title",
    "description",
    "change_type",
    "state",
    "requester_id",
    "assignment_group_id",
    "implementer_id",
    "justification",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "risk_level",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "review_outcome",
    "review_caused_incidents",
    "review_notes",
    "reviewed_by_id",
    "reviewed_at",
    "opened_at",
    "closed_at",
)


def _load_changes(session: Session, changes: pl.DataFrame, source_system: str) -> EntityCounts:
    _stage(session, "stage_changes", changes)
    _upsert_people(
        session,
        source_system,
        "select requester from stage_changes union select implementer from stage_changes "
        "union select reviewer from stage_changes",
    )
    _upsert_teams(session, "select assignment_group from stage_changes")
    source = f"""
        select s.source_system, left(s.external_id, 200) as external_id,
            left(coalesce(s.title, s.number), 300) as title, s.description, s.change_type,
            s.state, requester.id as requester_id, team.id as assignment_group_id,
            implementer.id as implementer_id, s.justification, s.implementation_plan,
            s.backout_plan, s.test_plan, s.risk as risk_level, s.planned_start, s.planned_end,
            s.actual_start, s.actual_end, s.review_outcome, s.review_caused_incidents,
            s.review_notes, reviewer.id as reviewed_by_id,
            case when s.review_outcome is not null
                 then coalesce(s.reviewed_at, s.closed_at, s.actual_end) end as reviewed_at,
            s.opened_at, s.closed_at, s.affected_cis
        from stage_changes s
        {_person("requester", "requester")}
        {_person("implementer", "implementer")}
        {_person("reviewer", "reviewer")}
        left join operational.teams team on team.name = left(s.assignment_group, 200)
    """
    target = ", ".join(_CHANGE_COLUMNS)
    # An export without an opening time keeps the one stored (or gets the time of import).
    values = ", ".join(
        "coalesce(src.opened_at, c.opened_at)" if column == "opened_at" else f"src.{column}"
        for column in _CHANGE_COLUMNS
    )
    updated = _count(
        session,
        f"""
        with src as ({source})
        update operational.changes c
        set ({target}) = ({values}), version = c.version + 1, updated_at = now()
        from src
        where c.source_system = src.source_system and c.external_id = src.external_id
          and ({", ".join(f"c.{column}" for column in _CHANGE_COLUMNS)}) is distinct from ({values})
        """,
    )
    new_values = ", ".join(
        "coalesce(src.opened_at, now())" if column == "opened_at" else f"src.{column}"
        for column in _CHANGE_COLUMNS
    )
    inserted_ids = (
        session.execute(
            text(
                f"""
            with src as ({source})
            insert into operational.changes (number, source_system, external_id, {target})
            select 'CHG' || lpad(nextval('operational.change_number_seq')::text, 7, '0'),
                   src.source_system, src.external_id, {new_values}
            from src
            where not exists (
                select 1 from operational.changes c
                where c.source_system = src.source_system and c.external_id = src.external_id
            )
            returning id
            """
            )
        )
        .scalars()
        .all()
    )
    session.execute(
        text(
            f"""
            insert into operational.change_cis (change_id, ci_id)
            select distinct c.id, ci.id
            from stage_changes s
            join operational.changes c
              on c.source_system = s.source_system and c.external_id = left(s.external_id, 200)
            cross join lateral unnest(string_to_array(s.affected_cis, E'{LIST_SEPARATOR}'))
                as affected(key)
            join lateral {_CI_BY_KEY.format(column="affected.key", source="s.source_system")}
                as ci(id) on ci.id is not null
            on conflict do nothing
            """
        )
    )
    _created_events(session, "change", "changes", list(inserted_ids))
    # The post-implementation review, as record_review writes it.
    _temp_table(
        session,
        "stage_appends",
        """
        select 'change'::text as entity_type, c.id as entity_id, 'review'::text as import_key,
            0::bigint as ord, c.reviewed_at as occurred_at, c.reviewed_by_id as actor_id,
            coalesce(reviewer.display_name, 'import') as actor_label,
            'field_changed'::text as kind, 'review'::text as field, null::text as old_value,
            c.review_outcome as new_value,
            jsonb_build_object('outcome', c.review_outcome,
                'caused_incidents', c.review_caused_incidents, 'notes', c.review_notes)::text
                as data,
            c.source_system, false as synthesized
        from stage_changes s
        join operational.changes c
          on c.source_system = s.source_system and c.external_id = left(s.external_id, 200)
        left join operational.users reviewer on reviewer.id = c.reviewed_by_id
        where c.review_outcome is not null and c.reviewed_at is not null
        """,
    )
    _append_events(session)
    return EntityCounts(
        loaded=len(inserted_ids),
        updated=updated,
        unchanged=changes.height - len(inserted_ids) - updated,
    )


def _load_change_approvals(
    session: Session, approvals: pl.DataFrame, source_system: str, report: LoadReport
) -> EntityCounts:
    """CAB decisions of imported changes. Approvers are people of the source system, given the
    row's `approver_role` when there is one. Each round is then settled by the platform's own
    CAB rules, and the log gets what the API writes: the round opened (pending), one
    `approval_decided` per decision with the running tally, and the outcome once reached."""
    _stage(session, "stage_approvals", approvals.with_row_index("_row").cast({"_row": pl.Int64}))
    _upsert_people(session, source_system, "select approver from stage_approvals")
    session.execute(
        text(
            """
            insert into operational.user_roles (user_id, role)
            select distinct person.id, s.approver_role
            from stage_approvals s
            join operational.users person on person.source_system = s.source_system
                and person.external_id = left(s.approver, 200)
            where s.approver_role is not null
            on conflict do nothing
            """
        )
    )
    _temp_table(
        session,
        "resolved_approvals",
        """
        select s.*, c.id as change_id, c.requester_id, person.id as approver_id
        from stage_approvals s
        left join operational.changes c
          on c.source_system = s.source_system and c.external_id = left(s.change_external_id, 200)
        join operational.users person
          on person.source_system = s.source_system and person.external_id = left(s.approver, 200)
        """,
    )
    refused = _refuse(
        session,
        report,
        entity="change_approvals",
        rows_sql="select _row, change_external_id, change_external_id from resolved_approvals "
        "where change_id is null",
        column="change_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail=f"no change with this id was imported from {source_system}",
    )
    refused += _refuse(
        session,
        report,
        entity="change_approvals",
        rows_sql="select _row, approver, change_external_id from resolved_approvals "
        "where approver_id = requester_id",
        column="approver",
        reason=rejects.SELF_APPROVAL,
        detail="the requester of a change cannot decide on it",
    )
    loaded = _count(
        session,
        """
        insert into operational.change_approvals (change_id, stage, round, approver_id,
            decision, comment, decided_at)
        select change_id, stage, round, approver_id, decision, coalesce(comment, ''), decided_at
        from resolved_approvals
        where change_id is not null and approver_id is distinct from requester_id
        on conflict (change_id, round, approver_id) do nothing
        """,
    )
    change_ids = (
        session.execute(
            text("select distinct change_id from resolved_approvals where change_id is not null")
        )
        .scalars()
        .all()
    )
    _settle_cab_rounds(session, list(change_ids), source_system)
    return EntityCounts(
        loaded=loaded, unchanged=approvals.height - refused - loaded, refused=refused
    )


def _change_event(
    change_id: int,
    import_key: str,
    occurred_at: datetime,
    kind: str,
    *,
    actor_id: int | None = None,
    actor_label: str = "import",
    field: str | None = None,
    old_value: str | None = None,
    new_value: str | None = None,
    data: dict | None = None,
    synthesized: bool = False,
) -> dict:
    """One row of an `_append_events` frame for a change (ord and source_system set later)."""
    return {
        "entity_type": "change",
        "entity_id": change_id,
        "import_key": import_key,
        "ord": 0,
        "occurred_at": occurred_at,
        "actor_id": actor_id,
        "actor_label": actor_label,
        "kind": kind,
        "field": field,
        "old_value": old_value,
        "new_value": new_value,
        "data": json.dumps(data, default=str) if data is not None else None,
        "source_system": None,
        "synthesized": synthesized,
    }


def _settle_cab_rounds(session: Session, change_ids: list[int], source_system: str) -> None:
    """Replay the decisions of each round through `changes.service.tally`, the function the API
    settles rounds with, and write the events and the change's CAB fields that follow.

    The pool of a round is as in the API (who may decide, plus who decided), drawn from the
    people of the change's source system: the source tool's CAB decided its changes. A round's
    rule is the change's stored one for its current round, else the CAB rule of its type now.
    """
    if not change_ids:
        return
    from operational.changes import service as changes_service

    changes = session.execute(
        text(
            """
            select id, change_type, requester_id, cab_round, cab_rule, cab_quorum
            from operational.changes where id = any(cast(:ids as bigint[])) order by id for update
            """
        ),
        {"ids": change_ids},
    ).all()
    rules = {
        row.change_type: (row.rule, row.quorum)
        for row in session.execute(
            text("select change_type, rule, quorum from operational.cab_rules")
        )
    }
    cab = set(
        session.execute(
            text(
                """
                select distinct person.id from operational.users person
                join operational.user_roles role on role.user_id = person.id
                where person.source_system = :source_system and person.is_active
                  and role.role = any(:roles)
                """
            ),
            {"source_system": source_system, "roles": changes_service.approver_roles()},
        )
        .scalars()
        .all()
    )
    decisions: dict[int, dict[int, list]] = {}
    for row in session.execute(
        text(
            """
            select a.id, a.change_id, a.stage, a.round, a.approver_id, a.decision, a.comment,
                   a.decided_at, person.display_name
            from operational.change_approvals a
            join operational.users person on person.id = a.approver_id
            where a.change_id = any(cast(:ids as bigint[]))
            order by a.change_id, a.round, a.decided_at, a.id
            """
        ),
        {"ids": change_ids},
    ):
        decisions.setdefault(row.change_id, {}).setdefault(row.round, []).append(row)

    events: list[dict] = []
    settled: list[dict] = []
    for change in changes:
        eligible = cab - {change.requester_id}
        last = None
        for number, round_decisions in sorted(decisions.get(change.id, {}).items()):
            stage = round_decisions[0].stage
            if number == change.cab_round and change.cab_rule:
                rule, quorum = change.cab_rule, change.cab_quorum
            else:
                rule, quorum = rules["emergency" if change.change_type == "emergency" else "normal"]

            def event(key: str, when: datetime, kind: str, **values) -> None:
                events.append(
                    _change_event(change.id, f"cab:{number}:{key}", when, kind, **values)  # noqa: B023
                )

            # When the round opened is not in the export: the first decision stands for it.
            event(
                "opened",
                round_decisions[0].decided_at,
                "field_changed",
                field="cab_outcome",
                new_value="pending",
                data={"stage": stage, "round": number, "rule": rule, "quorum": quorum},
                synthesized=True,
            )
            outcome = "pending"
            so_far: list[str] = []
            deciders: set[int] = set()
            for decision in round_decisions:
                so_far.append(decision.decision)
                deciders.add(decision.approver_id)
                result = changes_service.tally(
                    rule=rule, quorum=quorum, decisions=so_far, pool_size=len(eligible | deciders)
                )
                by = {"actor_id": decision.approver_id, "actor_label": decision.display_name}
                event(
                    f"approval:{decision.id}",
                    decision.decided_at,
                    "approval_decided",
                    **by,
                    field="approval",
                    new_value=decision.decision,
                    data={
                        "approval_id": decision.id,
                        "decision": decision.decision,
                        "comment": decision.comment,
                        "stage": stage,
                        "round": number,
                        "rule": rule,
                        "quorum": quorum,
                        "approvals": result.approvals,
                        "rejections": result.rejections,
                        "undecided": result.undecided,
                        "outcome": result.outcome.value,
                    },
                )
                if outcome == "pending" and result.outcome.value != "pending":
                    outcome = result.outcome.value
                    event(
                        "settled",
                        decision.decided_at,
                        "field_changed",
                        **by,
                        field="cab_outcome",
                        old_value="pending",
                        new_value=outcome,
                        data={"stage": stage, "round": number},
                    )
            last = {"id": change.id, "stage": stage, "round": number, "rule": rule,
                    "quorum": quorum, "outcome": outcome}  # fmt: skip
        if last:
            settled.append(last)
    if events:
        for order, row in enumerate(events):
            row["ord"] = order
            row["source_system"] = source_system
        _append_events(session, pl.DataFrame(events, schema=APPEND_SCHEMA))
    session.execute(
        text(
            """
            update operational.changes c
            set cab_stage = v.stage, cab_round = v.round, cab_rule = v.rule,
                cab_quorum = v.quorum, cab_outcome = v.outcome, version = c.version + 1,
                updated_at = now()
            from jsonb_to_recordset(cast(:rows as jsonb))
                as v(id bigint, stage text, round integer, rule text, quorum smallint,
                     outcome text)
            where c.id = v.id
              and (c.cab_stage, c.cab_round, c.cab_rule, c.cab_quorum, c.cab_outcome)
                  is distinct from (v.stage, v.round, v.rule, v.quorum, v.outcome)
            """
        ),
        {"rows": json.dumps(settled)},
    )


# --- orchestration --------------------------------------------------------------------------


def ticket_batches(
    incidents: pl.DataFrame, events: pl.DataFrame, batch_events: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Split into batches of whole tickets holding about `batch_events` events each."""
    if not incidents.height:
        return
    per_ticket = events.group_by("external_id").len("events")
    numbered = (
        incidents.join(per_ticket, on="external_id", how="left", maintain_order="left")
        .with_columns(
            (pl.col("events").fill_null(0).cum_sum() // max(batch_events, 1)).alias("_batch")
        )
        .select("external_id", "_batch")
    )
    tagged = events.join(numbered, on="external_id", how="inner", maintain_order="left")
    for batch, tickets in numbered.group_by("_batch", maintain_order=True):
        keys = tickets.get_column("external_id").implode()
        yield (
            incidents.filter(pl.col("external_id").is_in(keys)),
            tagged.filter(pl.col("_batch") == batch[0]).drop("_batch"),
        )


def _start_run(engine: Engine | Connection, parsed: ParsedExport, *, dry_run: bool) -> int:
    with _session(engine) as session, session.begin():
        return session.execute(
            text(
                """
                insert into operational.import_runs (source, source_system, file_name,
                    file_sha256, dry_run, status, started_at, rows_read, rejected)
                values (:source, :source_system, :file_name, :sha, :dry_run, 'running', :now,
                    :rows_read, :rejected)
                returning id
                """
            ),
            {
                "source": parsed.source,
                "source_system": parsed.source_system,
                "file_name": str(parsed.path),
                "sha": file_sha256(parsed.path),
                "dry_run": dry_run,
                "now": datetime.now(UTC),
                "rows_read": parsed.rows_read,
                "rejected": parsed.rejected,
            },
        ).scalar_one()


def _finish_run(
    engine: Engine | Connection, report: LoadReport, *, status: str, error: str | None = None
) -> None:
    with _session(engine) as session, session.begin():
        session.execute(
            text(
                """
                update operational.import_runs
                set status = :status, finished_at = :now, loaded = :loaded, updated = :updated,
                    rejected = :rejected, skipped = :skipped, counts = cast(:counts as jsonb),
                    batches_committed = :batches, rejects_path = :rejects_path, error = :error
                where id = :id
                """
            ),
            {
                "status": status,
                "now": datetime.now(UTC),
                "loaded": report.loaded,
                "updated": report.updated,
                "rejected": report.rejected,
                "skipped": report.skipped,
                "counts": json.dumps({name: vars(c) for name, c in report.counts.items()}),
                "batches": report.batches,
                "rejects_path": str(report.rejects_path) if report.rejects_path else None,
                "error": error,
                "id": report.run_id,
            },
        )


def write_rejects(found: pl.DataFrame, path: Path, directory: Path) -> Path | None:
    """Write `<file>.rejects.csv` and `.json` beside each other; None when nothing was rejected."""
    if not found.height:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    stem = Path(path).name
    write_rejects_json(found, directory / f"{stem}.rejects.json")
    return write_rejects_csv(found, directory / f"{stem}.rejects.csv")


def all_rejects(parsed: ParsedExport, report: LoadReport) -> pl.DataFrame:
    """The parser's rejects and the loader's refusals, the latter at their source line."""
    if not report.refusals:
        return parsed.rejects
    refused = []
    for (entity,), rows in pl.concat(report.refusals).group_by("entity", maintain_order=True):
        lines = parsed.lines.get(entity)
        line = (
            lines.cast(pl.Int64).gather(rows.get_column("_row"))
            if lines is not None
            else pl.Series(values=[None] * rows.height, dtype=pl.Int64)
        )
        refused.append(
            rows.select(
                pl.lit(Path(parsed.path).name).alias("file"),
                pl.lit(line).alias("line"),
                pl.col("column").replace(parsed.source_columns),
                "reason",
                "value",
                "external_id",
                "detail",
            )
        )
    return pl.concat([parsed.rejects, *refused]).sort("line", "column", nulls_last=True)


def load(
    parsed: ParsedExport,
    *,
    engine: Engine | Connection | None = None,
    batch_events: int = DEFAULT_BATCH_EVENTS,
    dry_run: bool = False,
    progress: Progress | None = None,
    rejects_dir: Path | None = None,
    before_batch: Callable[[int], None] | None = None,
    sla_backfill: bool = True,
    workers: int | None = None,
) -> LoadReport:
    """Load a parsed export. Each batch is one transaction; the run is recorded in import_runs.

    `dry_run` validates and counts what would happen: every batch is rolled back and no run is
    recorded (sequence numbers drawn for would-be tickets are not given back, as PostgreSQL
    never does).
    `before_batch(n)` is called before batch n starts (progress reporting, crash tests).
    `sla_backfill` computes the SLA timers of the touched incidents inside each batch; turn it
    off only to run `backfill_sla` later (the benchmark times the two apart).
    `workers` ticket batches run at once, each in its own process and transaction (default:
    `default_workers()`; one when `engine` is a connection, as in tests).
    The rejects report (`rejects_dir`) holds the parser's rejects and the rows the loader refused.
    """
    if engine is None:
        from operational.core.db import get_engine

        engine = get_engine()
    report = LoadReport(
        source=parsed.source,
        source_system=parsed.source_system,
        path=Path(parsed.path),
        dry_run=dry_run,
        rows_read=parsed.rows_read,
        parse_rejected=parsed.rejected,
        parse_skipped=parsed.skipped,
    )

    def run() -> None:
        try:
            _load_all(
                parsed,
                engine,
                report,
                batch_events,
                dry_run,
                progress,
                before_batch,
                sla_backfill,
                default_workers() if workers is None else workers,
            )
        finally:
            if rejects_dir is not None:
                report.rejects_path = write_rejects(
                    all_rejects(parsed, report), parsed.path, rejects_dir
                )

    if dry_run:  # writes nothing, not even the run record
        run()
        return report
    report.run_id = _start_run(engine, parsed, dry_run=dry_run)
    try:
        run()
    except BaseException as error:
        _finish_run(engine, report, status="failed", error=repr(error)[:2000])
        raise
    _finish_run(engine, report, status="succeeded")
    return report


def _session(bind: Engine | Connection) -> Session:
    # A connection inside a transaction (tests) gets savepoints; an engine, real transactions.
    return Session(bind=bind, join_transaction_mode="create_savepoint", expire_on_commit=False)


def _run_batch(engine: Engine | Connection, dry_run: bool, work: Callable[[Session], None]) -> None:
    """One import transaction. Its commit does not wait for the WAL flush (synchronous_commit
    off): a crash of the database server may lose the last batches committed, never part of a
    batch, and the run's own record, committed synchronously at the end, flushes them all."""
    with _session(engine) as session:
        session.begin()
        try:
            session.execute(text("set local synchronous_commit = off"))
            # The import's statements are planned afresh for each batch: compiling them is
            # wasted time.
            session.execute(text("set local jit = off"))
            work(session)
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()


BatchResult = tuple[dict[str, EntityCounts], list[int]]


def _ticket_batch(
    session: Session,
    incidents: pl.DataFrame,
    events: pl.DataFrame,
    source_system: str,
    sla_backfill: bool,
) -> BatchResult:
    counts, touched = _load_incidents(session, incidents, events, source_system)
    if sla_backfill:
        _backfill_sla(session, touched)
    return counts, touched


@cache
def _worker_engine(url: str) -> Engine:
    from sqlalchemy import create_engine

    return create_engine(url, pool_size=1, max_overflow=0)


def _ticket_batch_in_worker(
    url: str,
    dry_run: bool,
    incidents: pl.DataFrame,
    events: pl.DataFrame,
    source_system: str,
    sla_backfill: bool,
) -> BatchResult:
    """A ticket batch in a worker process: its own connection, its own transaction."""
    result: list[BatchResult] = []
    _run_batch(
        _worker_engine(url),
        dry_run,
        lambda session: result.append(
            _ticket_batch(session, incidents, events, source_system, sla_backfill)
        ),
    )
    return result[0]


def workers_possible() -> bool:
    """Whether batches can go to worker processes. Workers import the program's main module, as
    every use of multiprocessing does (so a script that calls `load` must guard its entry
    point with `if __name__ == "__main__":`). That needs the main module to be the program that
    was started: run by name (`python -m`), or the file named on the command line (a script,
    a console entry point such as `itsm`). Otherwise (python -c, standard input, pytest-xdist
    workers, or a host that swapped `__main__` for a module of its own, as Streamlit's script
    runner does) everything stays in one process, whatever `workers` asks for."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return True
    path = getattr(main, "__file__", None)
    started = sys.argv[0] if sys.argv else ""
    if not path or not started or not Path(path).is_file() or not Path(started).is_file():
        return False
    return Path(path).resolve() == Path(started).resolve()


def default_workers() -> int:
    """Ticket batches run in this many processes at once: one per CPU, at most four."""
    return max(1, min(os.cpu_count() or 1, 4)) if workers_possible() else 1


def _load_all(
    parsed: ParsedExport,
    engine: Engine | Connection,
    report: LoadReport,
    batch_events: int,
    dry_run: bool,
    progress: Progress | None,
    before_batch: Callable[[int], None] | None,
    sla_backfill: bool,
    workers: int,
) -> None:
    counts = report.counts
    for name in ("configuration_items", "ci_relationships", "changes", "incidents", "events"):
        counts.setdefault(name, EntityCounts())

    def merge(batch_counts: dict[str, EntityCounts]) -> None:
        for name, value in batch_counts.items():
            counts.setdefault(name, EntityCounts()).add(value)

    # Reference data first: incidents and changes point at CIs.
    for name, loader in (
        ("configuration_items", _load_configuration_items),
        ("ci_relationships", _load_ci_relationships),
    ):
        frame = getattr(parsed, name)
        if frame.height:
            _run_batch(
                engine,
                dry_run,
                lambda s, f=frame, fn=loader, n=name: merge({n: fn(s, f, report)}),
            )
            report.batches += 1
    if parsed.changes.height:
        _run_batch(
            engine,
            dry_run,
            lambda s: merge({"changes": _load_changes(s, parsed.changes, parsed.source_system)}),
        )
        report.batches += 1
    if parsed.change_approvals.height:
        _run_batch(
            engine,
            dry_run,
            lambda s: merge(
                {
                    "change_approvals": _load_change_approvals(
                        s, parsed.change_approvals, parsed.source_system, report
                    )
                }
            ),
        )
        report.batches += 1

    if parsed.incidents.height:
        batches = list(ticket_batches(parsed.incidents, parsed.events, batch_events))
        # Parallel batches need their own connections (not a test's outer transaction) and
        # would each roll back what a dry run's people and teams batch wrote. Workers cost
        # their start (about 1.5 CPU-seconds, importing the loader and the SLA engine once):
        # worth it for two batches per worker, or batches that compute SLA timers.
        worth_it = len(batches) >= 2 * workers or (sla_backfill and len(batches) > 1)
        parallel = (
            workers > 1
            and worth_it
            and isinstance(engine, Engine)
            and not dry_run
            and workers_possible()
        )
        workers = min(workers, len(batches)) if parallel else 1
        report.workers = workers
        pool = _process_pool(workers) if parallel else None
        try:
            _run_batch(
                engine,
                dry_run,
                lambda s: _load_people_and_teams(
                    s, parsed.incidents, parsed.events, parsed.source_system
                ),
            )
            report.batches += 1
            total, done = parsed.incidents.height, 0
            if progress:
                progress(0, total)

            def finished(size: int, result: BatchResult) -> None:
                nonlocal done
                merge(result[0])
                report.incident_ids.extend(result[1])
                report.batches += 1
                done += size
                if progress:
                    progress(done, total)

            if pool is None:
                for number, (incidents, events) in enumerate(batches, start=1):
                    if before_batch:
                        before_batch(number)
                    results: list[BatchResult] = []
                    _run_batch(
                        engine,
                        dry_run,
                        lambda s, i=incidents, e=events, r=results: r.append(
                            _ticket_batch(s, i, e, parsed.source_system, sla_backfill)
                        ),
                    )
                    finished(incidents.height, results[0])
            else:
                url = engine.url.render_as_string(hide_password=False)
                _run_in_pool(
                    pool,
                    workers * 2,
                    [
                        partial(
                            _ticket_batch_in_worker,
                            url,
                            dry_run,
                            incidents,
                            events,
                            parsed.source_system,
                            sla_backfill,
                        )
                        for incidents, events in batches
                    ],
                    [incidents.height for incidents, _ in batches],
                    before_batch,
                    finished,
                )
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    if parsed.csat.height:
        _run_batch(engine, dry_run, lambda s: merge({"csat": _load_csat(s, parsed.csat)}))
        report.batches += 1


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """Workers forked from a server process that only imported the loader and the SLA engine:
    they start in milliseconds (spawning imports everything anew, seconds on a busy machine),
    and never inherit the parent's threads (polars) or connections, as plain forks would."""
    context = get_context("forkserver")
    context.set_forkserver_preload(["ingest.loader", "operational.sla.service"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _run_in_pool(
    pool: ProcessPoolExecutor,
    queued: int,
    tasks: list[Callable[[], BatchResult]],
    sizes: list[int],
    before_batch: Callable[[int], None] | None,
    finished: Callable[[int, BatchResult], None],
) -> None:
    """Run the batches in the pool, at most `queued` at a time. If one fails, or
    `before_batch` raises, no further batch starts; those running end (committed or rolled
    back, each whole) and the first error is raised."""
    running: dict[Future, int] = {}
    error: BaseException | None = None

    def collect(block: bool) -> None:
        nonlocal error
        done, _ = wait(running, return_when=FIRST_COMPLETED if block else ALL_COMPLETED)
        for future in done:
            size = running.pop(future)
            if future.cancelled():
                continue
            if future.exception() is not None:
                error = error or future.exception()
                for other in running:
                    other.cancel()
            else:
                finished(size, future.result())

    try:
        for number, (task, size) in enumerate(zip(tasks, sizes, strict=True), start=1):
            if error is not None:
                break
            if before_batch:
                before_batch(number)
            while len(running) >= queued:
                collect(block=True)
            if error is None:
                running[pool.submit(task)] = size
    except BaseException as raised:
        error = error or raised
    while running:
        collect(block=True)
    if error is not None:
        raise error
