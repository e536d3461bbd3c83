"""Event histories: reconstructed from successive snapshots, or synthesized from timestamps.

Both return canonical event frames (see `ingest.schema.EVENT_SCHEMA`). Reconstruction is
prefix-stable: the events of a ticket's first k snapshots do not depend on later snapshots, so
a later, longer export of the same ticket yields the same (ticket, seq) events plus new ones.
"""

from __future__ import annotations

import polars as pl

from ingest import schema

# (field, event kind, baseline before the first snapshot: "null", "new" or "self").
# "self" means the first snapshot's own value is the value at creation: no event for it.
# The order is the order of events that one update produces.
TRACKED_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("assignment_group", "assigned", "null"),
    ("assignee", "assigned", "null"),
    ("priority", "priority_changed", "self"),
    ("impact", "field_changed", "self"),
    ("urgency", "field_changed", "self"),
    ("title", "field_changed", "self"),
    ("description", "field_changed", "self"),
    ("category", "field_changed", "self"),
    ("subcategory", "field_changed", "self"),
    ("service", "field_changed", "self"),
    ("ci", "field_changed", "self"),
    ("location", "field_changed", "self"),
    ("state", "state_changed", "new"),
    ("hold_reason", "field_changed", "null"),
    ("resolution_code", "field_changed", "null"),
    ("resolution_notes", "field_changed", "null"),
)


def _mixed(parts: list[pl.DataFrame]) -> bool:
    return len({tuple(part.columns) for part in parts}) > 1


def finish_events(
    parts: list[pl.DataFrame],
    *,
    source_system: str,
    synthesized: bool,
    order_is_global: bool = False,
) -> pl.DataFrame:
    """Order the events of each ticket and number them 1, 2, ... (`seq`).

    `order_is_global` says `_order` already orders all tickets' rows (tickets contiguous), which
    saves sorting by the text id.
    """
    parts = [part for part in parts if part.height]
    if not parts:
        return schema.empty("events")
    keys = ("_order", "_rank") if order_is_global else ("external_id", "_order", "_rank")
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    first = pl.col("external_id").ne_missing(pl.col("external_id").shift(1))
    events = (
        pl.concat(parts, how="diagonal_relaxed" if _mixed(parts) else "vertical")
        .sort(*keys, maintain_order=True)
        .with_columns(
            pl.lit(source_system, pl.String).alias("source_system"),
            (index - pl.when(first).then(index).forward_fill() + 1).cast(pl.Int32).alias("seq"),
        )
    )
    if "synthesized" not in events.columns:
        events = events.with_columns(pl.lit(synthesized).alias("synthesized"))
    else:  # parts that do not say take the default
        events = events.with_columns(pl.col("synthesized").fill_null(synthesized))
    return schema.conform(events, "events")


HISTORY_GAP = "history_gap"  # field of the marker event where a history lacks updates


def gap_marker(frame: pl.DataFrame, missing: pl.Expr, text: pl.Expr) -> pl.DataFrame:
    """Marker events (`field_changed` of `history_gap`, synthesized) where `missing` > 0: the
    timeline shows where the source's history lacks updates. `frame` has `external_id`,
    `_order` and `occurred_at`; the marker comes first among the events at its `_order`."""
    marked = frame.with_columns(missing.alias("_gap"), text.alias("_gap_text"))
    return marked.filter(pl.col("_gap").gt(0)).select(
        "external_id",
        pl.col("_order").cast(pl.Int64),
        pl.lit(0, pl.Int32).alias("_rank"),
        "occurred_at",
        pl.lit(None, pl.String).alias("actor"),
        pl.lit("field_changed").alias("kind"),
        pl.lit(HISTORY_GAP).alias("field"),
        pl.lit(None, pl.String).alias("old_value"),
        pl.col("_gap_text").alias("new_value"),
        pl.lit(True).alias("synthesized"),
    )


def events_from_snapshots(
    snapshots: pl.DataFrame, *, source_system: str, extra: list[pl.DataFrame] | None = None
) -> pl.DataFrame:
    """Events from the differences between each ticket's consecutive snapshots.

    `snapshots` has one row per update, sorted by ticket and `_order`, in canonical values,
    with columns `external_id`, `_order` (position within the ticket), `occurred_at`, `actor`
    (who made the update), `opened_at`, `opened_by`, `number`, and any of the TRACKED_FIELDS.
    The first snapshot is compared with the ticket as created: state `new`, nobody assigned,
    no hold reason or resolution. `extra` events (gap markers) come after `created` and before
    the changes of their snapshot.
    """
    frame = snapshots.with_columns(
        pl.col("external_id").ne_missing(pl.col("external_id").shift(1)).alias("_first")
    )
    parts = [
        frame.filter("_first").select(
            "external_id",
            pl.col("_order").cast(pl.Int64),
            pl.lit(0, pl.Int32).alias("_rank"),
            pl.coalesce("opened_at", "occurred_at").alias("occurred_at"),
            pl.col("opened_by").alias("actor"),
            pl.lit("created").alias("kind"),
            pl.lit(None, pl.String).alias("field"),
            pl.lit(None, pl.String).alias("old_value"),
            pl.col("number").alias("new_value"),
        ),
        *(extra or []),
    ]
    for rank, (name, kind, baseline) in enumerate(TRACKED_FIELDS, start=1):
        if name not in frame.columns:
            continue
        current = pl.col(name).cast(pl.String)
        before = {"null": pl.lit(None, pl.String), "new": pl.lit("new"), "self": current}[baseline]
        previous = pl.when("_first").then(before).otherwise(current.shift(1))
        parts.append(
            frame.select(
                "external_id",
                pl.col("_order").cast(pl.Int64),
                pl.lit(rank, pl.Int32).alias("_rank"),
                "occurred_at",
                "actor",
                pl.lit(kind).alias("kind"),
                pl.lit(name).alias("field"),
                previous.alias("old_value"),
                current.alias("new_value"),
            ).filter(pl.col("new_value").ne_missing(pl.col("old_value")))
        )
    return finish_events(
        parts, source_system=source_system, synthesized=False, order_is_global=True
    )


def with_source_figures(
    incidents: pl.DataFrame, *, recorded: pl.Series | None = None
) -> pl.DataFrame:
    """The source's own resolution and closure times are the incident's `resolved_at` and
    `closed_at` as the source gave them. A resolved or closed incident without `resolved_at`
    has an unknown resolution time unless its recorded history (`recorded`: the ids of tickets
    with a history in the file) says when: synthesized events only guess it."""
    done = pl.col("state").is_in(["resolved", "closed"])
    with_history = (
        pl.col("external_id").is_in(recorded.implode()) if recorded is not None else pl.lit(False)
    )
    return incidents.with_columns(
        pl.when(done).then(pl.col("resolved_at")).alias("source_resolved_at"),
        pl.when(pl.col("state").is_in(["closed", "cancelled"]))
        .then(pl.col("closed_at"))
        .alias("source_closed_at"),
        (done & pl.col("resolved_at").is_null() & ~with_history).alias("resolution_time_unknown"),
    )


def synthesize_events(incidents: pl.DataFrame) -> pl.DataFrame:
    """Events implied by a canonical incident's own timestamps, all marked synthesized.

    created at opened_at; the group and the assignee as assigned at opened_at; new -> assigned
    at opened_at when the ticket ever left `new` with someone assigned; -> resolved at
    resolved_at (or closed_at / updated_at when only those exist); then -> the current state
    (closed at closed_at, cancelled at closed_at or updated_at, an open state at updated_at,
    which after a resolution is a reopen), never earlier than the step before it. An on-hold
    ticket also gets its hold reason as a field change at that moment.
    """
    if not incidents.height:
        return schema.empty("events")
    source_system = incidents.get_column("source_system")[0]
    state = pl.col("state")
    has_owner = pl.col("assignment_group").is_not_null() | pl.col("assignee").is_not_null()
    frame = incidents.with_columns(
        (state.ne("new") & has_owner).alias("_to_assigned"),
        (pl.col("resolved_at").is_not_null() | state.is_in(["resolved", "closed"])).alias(
            "_to_resolved"
        ),
        pl.coalesce("resolved_at", "closed_at", "updated_at", "opened_at").alias("_resolved_time"),
    ).with_columns(
        pl.when("_to_resolved")
        .then(pl.lit("resolved"))
        .when("_to_assigned")
        .then(pl.lit("assigned"))
        .otherwise(pl.lit("new"))
        .alias("_before_final"),
        pl.when("_to_resolved")
        .then(pl.max_horizontal("_resolved_time", "opened_at"))
        .otherwise("opened_at")
        .alias("_before_final_time"),
    )
    final_time = pl.max_horizontal(
        pl.when(state.eq("closed"))
        .then(pl.coalesce("closed_at", "updated_at", "_resolved_time"))
        .when(state.eq("cancelled"))
        .then(pl.coalesce("closed_at", "updated_at", "opened_at"))
        .otherwise(pl.coalesce("updated_at", "opened_at")),
        "_before_final_time",
    )
    frame = frame.with_columns(final_time.alias("_final_time"))

    def step(condition, rank, time, actor, kind, field, old, new) -> pl.DataFrame:
        return frame.filter(condition).select(
            "external_id",
            pl.lit(0, pl.Int64).alias("_order"),
            pl.lit(rank, pl.Int32).alias("_rank"),
            pl.col(time).alias("occurred_at"),
            actor.alias("actor"),
            pl.lit(kind).alias("kind"),
            pl.lit(field, pl.String).alias("field"),
            old.cast(pl.String).alias("old_value"),
            (pl.col(new) if isinstance(new, str) else new).cast(pl.String).alias("new_value"),
        )

    nobody = pl.lit(None, pl.String)
    parts = [
        step(pl.lit(True), 0, "opened_at", pl.col("opened_by"), "created", None, nobody, "number"),
        step(
            pl.col("assignment_group").is_not_null(),
            1,
            "opened_at",
            nobody,
            "assigned",
            "assignment_group",
            nobody,
            pl.col("assignment_group"),
        ),
        step(
            pl.col("assignee").is_not_null(),
            2,
            "opened_at",
            nobody,
            "assigned",
            "assignee",
            nobody,
            pl.col("assignee"),
        ),
        step(
            "_to_assigned",
            3,
            "opened_at",
            nobody,
            "state_changed",
            "state",
            pl.lit("new"),
            pl.lit("assigned"),
        ),
        step(
            "_to_resolved",
            4,
            "_before_final_time",
            nobody,
            "state_changed",
            "state",
            pl.when("_to_assigned").then(pl.lit("assigned")).otherwise(pl.lit("new")),
            pl.lit("resolved"),
        ),
        step(
            state.ne(pl.col("_before_final")),
            5,
            "_final_time",
            nobody,
            "state_changed",
            "state",
            pl.col("_before_final"),
            state,
        ),
        step(
            state.eq("on_hold") & pl.col("hold_reason").is_not_null(),
            6,
            "_final_time",
            nobody,
            "field_changed",
            "hold_reason",
            nobody,
            pl.col("hold_reason"),
        ),
    ]
    return finish_events(parts, source_system=source_system, synthesized=True)
