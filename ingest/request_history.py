"""The history of imported requests, request items and fulfilment tasks, as canonical request
events (`ingest.schema.REQUEST_EVENT_SCHEMA`).

A generic mapping of requests, request_items or request_tasks may name a history file (one row
per event: the record's id, when, who, the kind, the field, the old and new values). Records
with a history get its events, and a synthesized `created` when it has none; records without
one get events synthesized from their own timestamps, as incidents do (`ingest.history`):

- a request: created at opened_at; open -> its state at closed_at;
- a request item: created at opened_at (pending_approval); -> in_fulfilment at approved_at;
  -> delivered at delivered_at, or -> rejected / cancelled at closed_at;
- a task: created at opened_at, its group and assignee as assigned; open -> its state at
  closed_at.

Timestamps a record leaves empty are taken from its history where it says them: an item's
approved_at (its first move to in_fulfilment), delivered_at and closed_at, a request's or a
task's closed_at. The request marts compute from those, as for native requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from ingest import convert, parsing, rejects, schema

# The mapping's entity -> the event log's entity type of its records.
ENTITY_TYPES = {
    "requests": "request",
    "request_items": "request_item",
    "request_tasks": "request_task",
}
_STATES = {
    "requests": schema.REQUEST_STATES,
    "request_items": schema.REQUEST_ITEM_STATES,
    "request_tasks": schema.REQUEST_TASK_STATES,
}
# The states that end a record, and the timestamp its history fills in when the record has none.
_FINAL = {
    "requests": ("closed", "cancelled"),
    "request_items": ("delivered", "rejected", "cancelled"),
    "request_tasks": ("closed", "cancelled"),
}
HISTORY_FIELDS = ("external_id", "occurred_at", "actor", "kind", "field", "old_value", "new_value")
_NOBODY = pl.lit(None, pl.String)


def _step(frame, condition, rank, time, actor, kind, field, old, new) -> pl.DataFrame:
    return frame.filter(condition).select(
        "external_id",
        pl.lit(0, pl.Int64).alias("_order"),
        pl.lit(rank, pl.Int32).alias("_rank"),
        time.alias("occurred_at"),
        actor.cast(pl.String).alias("actor"),
        pl.lit(kind).alias("kind"),
        pl.lit(field, pl.String).alias("field"),
        old.cast(pl.String).alias("old_value"),
        new.cast(pl.String).alias("new_value"),
    )


def _created(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    actor = {
        "requests": pl.coalesce("opened_by", "requester"),
        "request_items": _NOBODY,
        "request_tasks": _NOBODY,
    }[entity]
    return _step(
        frame,
        pl.lit(True),
        0,
        pl.col("opened_at"),
        actor,
        "created",
        None,
        _NOBODY,
        pl.col("number"),
    )


def _synthesized_parts(frame: pl.DataFrame, entity: str) -> list[pl.DataFrame]:
    state, opened = pl.col("state"), pl.col("opened_at")

    def later(*times: str | pl.Expr) -> pl.Expr:
        """The first of `times` that is known, never before the record was opened."""
        return pl.max_horizontal(pl.coalesce(*times, opened), opened)

    def moved(condition, rank, time, old, new) -> pl.DataFrame:
        old = pl.lit(old) if isinstance(old, str) else old
        new = pl.lit(new) if isinstance(new, str) else new
        return _step(frame, condition, rank, time, _NOBODY, "state_changed", "state", old, new)

    parts = [_created(frame, entity)]
    if entity == "requests":
        parts.append(moved(state.ne("open"), 1, later("closed_at"), "open", state))
    elif entity == "request_items":
        fulfilled = pl.col("approved_at").is_not_null() | state.is_in(
            ["in_fulfilment", "awaiting_requester", "delivered"]
        )
        approved = later("approved_at")
        before_end = (
            pl.when(fulfilled).then(pl.lit("in_fulfilment")).otherwise(pl.lit("pending_approval"))
        )
        parts += [
            moved(fulfilled, 1, approved, "pending_approval", "in_fulfilment"),
            moved(state.eq("awaiting_requester"), 2, approved, "in_fulfilment", state),
            moved(
                state.eq("delivered"),
                2,
                pl.max_horizontal(pl.coalesce("delivered_at", "closed_at", approved), approved),
                "in_fulfilment",
                state,
            ),
            moved(
                state.is_in(["rejected", "cancelled"]),
                2,
                pl.max_horizontal(
                    pl.coalesce("closed_at", pl.when(fulfilled).then(approved).otherwise(opened)),
                    pl.when(fulfilled).then(approved).otherwise(opened),
                ),
                before_end,
                state,
            ),
        ]
    else:
        for rank, field in ((1, "assignment_group"), (2, "assignee")):
            parts.append(
                _step(
                    frame,
                    pl.col(field).is_not_null(),
                    rank,
                    opened,
                    _NOBODY,
                    "assigned",
                    field,
                    _NOBODY,
                    pl.col(field),
                )
            )
        parts.append(moved(~state.is_in(["open", "pending"]), 3, later("closed_at"), "open", state))
    return parts


def finish(parts: list[pl.DataFrame], *, entity: str, source_system: str) -> pl.DataFrame:
    """Order each record's events and number them 1, 2, ... as canonical request events."""
    parts = [part for part in parts if part.height]
    if not parts:
        return schema.empty("request_events")
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    first = pl.col("external_id").ne_missing(pl.col("external_id").shift(1))
    events = pl.concat(parts, how="diagonal_relaxed")
    if "synthesized" not in events.columns:
        events = events.with_columns(pl.lit(True).alias("synthesized"))
    events = events.sort("external_id", "_order", "_rank", maintain_order=True).with_columns(
        pl.lit(source_system, pl.String).alias("source_system"),
        pl.lit(ENTITY_TYPES[entity], pl.String).alias("entity"),
        (index - pl.when(first).then(index).forward_fill() + 1).cast(pl.Int32).alias("seq"),
        pl.col("synthesized").fill_null(True),
    )
    return schema.conform(events, "request_events")


def synthesize(records: pl.DataFrame, entity: str, source_system: str) -> pl.DataFrame:
    """Events implied by the records' own timestamps, all marked synthesized."""
    if not records.height:
        return schema.empty("request_events")
    return finish(_synthesized_parts(records, entity), entity=entity, source_system=source_system)


def from_history(
    records: pl.DataFrame,
    history: pl.DataFrame,
    *,
    entity: str,
    source_system: str,
    columns: Mapping[str, str],
    values: Mapping[str, Mapping[str, object]],
    date_formats: Sequence[str],
    timezone: str,
    null_values: Sequence[str],
    file_name: str,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(records with the timestamps their history says, events, rejects of the history file).

    `history` has `_line` and the history's columns, renamed to HISTORY_FIELDS."""
    selected = history.with_columns(
        parsing.clean(pl.col(name), null_values).alias(name)
        for name in HISTORY_FIELDS
        if name in history.columns
    )
    for name in HISTORY_FIELDS:
        if name not in selected.columns:
            selected = selected.with_columns(pl.lit(None, pl.String).alias(name))
    kind_map = values.get("kind") or {kind: kind for kind in schema.EVENT_KINDS}
    states = list(_STATES[entity])
    state_map = {state: state for state in states}
    if "state" in values:
        entries = convert.state_map_entries(values["state"])
        state_map = {key: entry.partition("|")[0] for key, entry in entries.items()}
    is_state = pl.col("field").eq("state")

    def translate(column: str) -> pl.Expr:
        mapped = parsing.lookup(pl.col(column), state_map, pl.String())
        return pl.when(is_state).then(mapped).otherwise(pl.col(column))

    known = records.get_column("external_id").implode()
    parsed = selected.with_columns(
        parsing.timestamp(pl.col("occurred_at"), date_formats, timezone).alias("_occurred_at"),
        parsing.lookup(pl.col("kind"), kind_map, pl.String()).alias("_kind"),
        translate("old_value").alias("_old"),
        translate("new_value").alias("_new"),
        pl.col("external_id").alias("_external_id"),
    )
    source = {name: columns.get(name, name) for name in HISTORY_FIELDS}
    checks = [
        rejects.rejects_where(
            parsed,
            pl.col("external_id").is_null(),
            column=source["external_id"],
            reason=rejects.MISSING_KEY,
            value=pl.col("external_id"),
            detail="the record's id is empty",
        ),
        rejects.rejects_where(
            parsed,
            pl.col("external_id").is_not_null() & ~pl.col("external_id").is_in(known),
            column=source["external_id"],
            reason=rejects.MISSING_KEY,
            value=pl.col("external_id"),
            detail=f"no such record among the imported {entity}",
        ),
        rejects.rejects_where(
            parsed,
            parsing.unparsed("occurred_at", "_occurred_at") | pl.col("occurred_at").is_null(),
            column=source["occurred_at"],
            reason=rejects.BAD_DATE,
            value=pl.col("occurred_at"),
            detail=f"not a date in the formats {list(date_formats)}",
        ),
        rejects.rejects_where(
            parsed,
            pl.col("_kind").is_null() | ~pl.col("_kind").is_in(list(schema.EVENT_KINDS)),
            column=source["kind"],
            reason=rejects.UNKNOWN_VALUE,
            value=pl.col("kind"),
            detail=f"not an event kind {list(schema.EVENT_KINDS)}",
        ),
    ]
    for side, column in (("_old", "old_value"), ("_new", "new_value")):
        checks.append(
            rejects.rejects_where(
                parsed,
                is_state & pl.col(column).is_not_null() & ~pl.col(side).is_in(states),
                column=source[column],
                reason=rejects.UNKNOWN_STATE,
                value=pl.col(column),
                detail=f"no mapping for this state; allowed: {states}",
            )
        )
    found = rejects.name_file(rejects.combine(checks), file_name)
    good = (
        parsed.filter(~pl.col(parsing.LINE).is_in(found.get_column("line").implode()))
        .sort("external_id", "_occurred_at", parsing.LINE)
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_order"))
    )
    records = _fill_times(records, good, entity)
    with_history = good.get_column("external_id").unique().implode()
    has_created = good.filter(pl.col("_kind").eq("created")).get_column("external_id").implode()
    lacking_created = records.filter(
        pl.col("external_id").is_in(with_history) & ~pl.col("external_id").is_in(has_created)
    )
    recorded = good.select(
        "external_id",
        "_order",
        pl.lit(1, pl.Int32).alias("_rank"),
        pl.col("_occurred_at").alias("occurred_at"),
        "actor",
        pl.col("_kind").alias("kind"),
        "field",
        pl.col("_old").alias("old_value"),
        pl.col("_new").alias("new_value"),
        pl.lit(False).alias("synthesized"),
    )
    created = _created(lacking_created, entity).with_columns(
        pl.lit(-1, pl.Int64).alias("_order"), pl.lit(True).alias("synthesized")
    )
    events = pl.concat(
        [
            finish([recorded, created], entity=entity, source_system=source_system),
            synthesize(
                records.filter(~pl.col("external_id").is_in(with_history)), entity, source_system
            ),
        ]
    ).sort("external_id", "seq")
    return records, events, found


def _fill_times(records: pl.DataFrame, events: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Fill the timestamps a record leaves empty from its history's state changes."""
    moves = events.filter(pl.col("_kind").eq("state_changed") & pl.col("field").eq("state"))
    when, new = pl.col("_occurred_at"), pl.col("_new")
    final = list(_FINAL[entity])
    aggregations = [when.filter(new.is_in(final)).max().alias("_closed")]
    if entity == "request_items":
        aggregations += [
            when.filter(new.eq("in_fulfilment")).min().alias("_approved"),
            when.filter(new.eq("delivered")).max().alias("_delivered"),
        ]
    found = moves.group_by("external_id").agg(aggregations)
    filled = records.join(found, on="external_id", how="left", maintain_order="left")
    is_final = pl.col("state").is_in(final)
    updates = [
        pl.when(is_final)
        .then(pl.coalesce("closed_at", "_closed"))
        .otherwise(pl.col("closed_at"))
        .alias("closed_at")
    ]
    if entity == "request_items":
        updates += [
            pl.coalesce("approved_at", "_approved").alias("approved_at"),
            pl.when(pl.col("state").eq("delivered"))
            .then(pl.coalesce("delivered_at", "_delivered"))
            .otherwise(pl.col("delivered_at"))
            .alias("delivered_at"),
        ]
    return filled.with_columns(updates).select(records.columns)
