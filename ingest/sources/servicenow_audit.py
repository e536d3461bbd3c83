"""ServiceNow incident audit / event-log export: one CSV row per update of an incident.

Quirks handled: `?` is null; dates in the exporting user's format, read from the file
(`29/2/2016 1:16`, `29-02-2016 01:16`, `02/29/2016 01:16:00`, ...: ingest/dates.py);
coded values (`2 - Medium`, `3 - Moderate`); the `Awaiting ...` states and the odd `-100`;
updates sharing a timestamp, ordered by `sys_mod_count`.

State mapping (documented in docs/ingest.md): New -> new; Active -> in_progress when someone
is assigned, else assigned (queued at a group); Awaiting User Info/Vendor/Problem/Evidence/
Change -> on_hold with the matching hold reason; Resolved -> resolved; Closed -> closed;
Canceled -> cancelled. `-100` is ServiceNow's placeholder for "no state": such a row is
rejected (reason unknown_state) and the history continues from its neighbours.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import polars as pl

from ingest import dates, history, parsing, rejects, schema
from ingest.parsed import ParsedExport

NAME = "servicenow-audit"
EXPECTED = "ServiceNow incident audit export (CSV, one row per update)"
REQUIRED_COLUMNS = ("number", "incident_state", "sys_mod_count", "sys_updated_at", "opened_at")
OPTIONAL_COLUMNS = (
    "active",
    "reassignment_count",
    "reopen_count",
    "made_sla",
    "caller_id",
    "opened_by",
    "sys_created_by",
    "sys_created_at",
    "sys_updated_by",
    "contact_type",
    "location",
    "category",
    "subcategory",
    "u_symptom",
    "cmdb_ci",
    "impact",
    "urgency",
    "priority",
    "assignment_group",
    "assigned_to",
    "knowledge",
    "u_priority_confirmation",
    "notify",
    "problem_id",
    "rfc",
    "vendor",
    "caused_by",
    "closed_code",
    "resolved_by",
    "resolved_at",
    "closed_at",
)
# Columns of the export that carry nothing the platform keeps: not read.
UNUSED_COLUMNS = (
    "active",
    "knowledge",
    "u_priority_confirmation",
    "notify",
    "vendor",
    "resolved_by",
)
USED_COLUMNS = (
    *REQUIRED_COLUMNS,
    *(name for name in OPTIONAL_COLUMNS if name not in UNUSED_COLUMNS),
)
DATE_COLUMNS = ("opened_at", "sys_updated_at", "sys_created_at", "resolved_at", "closed_at")

STATES = {
    "new": "new",
    "active": "active",  # resolved to in_progress or assigned below
    "in progress": "in_progress",
    "awaiting user info": "on_hold",
    "awaiting caller": "on_hold",
    "awaiting vendor": "on_hold",
    "awaiting problem": "on_hold",
    "awaiting evidence": "on_hold",
    "awaiting change": "on_hold",
    "on hold": "on_hold",
    "resolved": "resolved",
    "closed": "closed",
    "canceled": "cancelled",
    "cancelled": "cancelled",
}
HOLD_REASONS = {
    "awaiting user info": "awaiting_caller",
    "awaiting caller": "awaiting_caller",
    "awaiting vendor": "awaiting_vendor",
    "awaiting problem": "awaiting_problem",
    "awaiting evidence": "awaiting_evidence",
    "awaiting change": "awaiting_change",
}
CHANNELS = {
    "phone": "phone",
    "ivr": "phone",
    "email": "email",
    "self service": "portal",
    "self-service": "portal",
    "portal": "portal",
    "web": "portal",
    "chat": "chat",
    "virtual agent": "chat",
    "direct opening": "walk_in",
    "walk-in": "walk_in",
    "walk in": "walk_in",
    "monitoring": "monitoring",
    "event": "monitoring",
    "alert": "monitoring",
}
IMPACT_LABELS = {"high": 1, "medium": 2, "low": 3}
PRIORITY_LABELS = {"critical": 1, "high": 2, "moderate": 3, "low": 4, "planning": 5}
PLACEHOLDER_STATE = "-100"
# (source column, parsed column, parser, type): columns with few distinct values, each value
# parsed once (parsing.per_distinct).
_text, _small = pl.String(), pl.Int8()
CODED_COLUMNS = (
    ("incident_state", "_state", partial(parsing.lookup, mapping=STATES, dtype=_text), _text),
    (
        "incident_state",
        "_hold_reason",
        partial(parsing.lookup, mapping=HOLD_REASONS, dtype=_text),
        _text,
    ),
    (
        "impact",
        "_impact",
        partial(parsing.coded, labels=IMPACT_LABELS, allowed=schema.IMPACTS),
        _small,
    ),
    (
        "urgency",
        "_urgency",
        partial(parsing.coded, labels=IMPACT_LABELS, allowed=schema.URGENCIES),
        _small,
    ),
    (
        "priority",
        "_priority",
        partial(parsing.coded, labels=PRIORITY_LABELS, allowed=schema.PRIORITIES),
        _small,
    ),
    ("contact_type", "_channel", partial(parsing.lookup, mapping=CHANNELS, dtype=_text), _text),
    ("made_sla", "_made_sla", parsing.boolean, pl.Boolean()),
)


def parse(
    path: Path,
    *,
    source_system: str = "servicenow",
    timezone: str = "UTC",
    date_format: str | None = None,
) -> ParsedExport:
    """`date_format` (`dd-MM-yyyy HH:mm` or strftime) when the file's dates do not say which
    of day and month comes first; by default the format is read from the file (ingest/dates)."""
    raw = parsing.read_csv_text(
        path,
        expected=EXPECTED,
        required_columns=REQUIRED_COLUMNS,
        null_values=["?"],
        only=USED_COLUMNS,
    )
    rows_read = raw.height
    raw = raw.with_columns(
        pl.lit(None, pl.String).alias(name) for name in USED_COLUMNS if name not in raw.columns
    )
    frame = raw.select(
        parsing.LINE, *(parsing.clean(pl.col(name), ["?"]).alias(name) for name in USED_COLUMNS)
    )
    date_formats = (
        dates.from_user(date_format)
        if date_format
        else dates.detect(dates.column_values(frame, DATE_COLUMNS), where=Path(path).name)
    )
    frame = frame.with_columns(
        pl.col("number").alias("_external_id"),
        *(
            parsing.timestamp(pl.col(name), date_formats, timezone).alias(f"_{name}")
            for name in DATE_COLUMNS
        ),
        *(
            parsing.per_distinct(frame, source, build, dtype).alias(target)
            for source, target, build, dtype in CODED_COLUMNS
        ),
        parsing.integer(pl.col("sys_mod_count"), pl.Int64()).alias("_sys_mod_count"),
        parsing.integer(pl.col("reassignment_count")).alias("_reassignment_count"),
        parsing.integer(pl.col("reopen_count")).alias("_reopen_count"),
    )

    found = _rejects(frame, dates.describe(date_formats))
    bad_lines = found.get_column("line").unique()
    good = frame.filter(~pl.col(parsing.LINE).is_in(bad_lines.implode()))
    # Exact repeats of an update (same number, sys_mod_count and time) are skipped; the last
    # copy in the file wins.
    ordered = good.sort("number", "_sys_updated_at", "_sys_mod_count", parsing.LINE)
    key = ("number", "_sys_mod_count", "_sys_updated_at")
    repeated = pl.all_horizontal(pl.col(name).eq_missing(pl.col(name).shift(-1)) for name in key)
    deduplicated = ordered.filter(~repeated)
    skipped = good.height - deduplicated.height

    snapshots = deduplicated.with_columns(
        pl.int_range(pl.len()).alias("_order"),
        pl.when(pl.col("_state").eq("active"))
        .then(
            pl.when(pl.col("assigned_to").is_not_null())
            .then(pl.lit("in_progress"))
            .otherwise(pl.lit("assigned"))
        )
        .otherwise(pl.col("_state"))
        .alias("_state"),
    ).select(
        pl.col("number").alias("external_id"),
        "_order",
        pl.col("_sys_updated_at").alias("occurred_at"),
        pl.col("sys_updated_by").alias("actor"),
        pl.col("_opened_at").alias("opened_at"),
        pl.coalesce("opened_by", "sys_created_by").alias("opened_by"),
        pl.col("number"),
        pl.coalesce("u_symptom", "category", "number").alias("title"),
        pl.col("caller_id").alias("requester"),
        pl.col("_channel").alias("channel"),
        "category",
        "subcategory",
        pl.col("cmdb_ci").alias("ci"),
        "location",
        pl.col("_impact").alias("impact"),
        pl.col("_urgency").alias("urgency"),
        pl.col("_priority").alias("priority"),
        "assignment_group",
        pl.col("assigned_to").alias("assignee"),
        pl.col("_state").alias("state"),
        pl.when(pl.col("_state").eq("on_hold")).then(pl.col("_hold_reason")).alias("hold_reason"),
        pl.col("closed_code").alias("resolution_code"),
        pl.col("_resolved_at").alias("resolved_at"),
        pl.col("_closed_at").alias("closed_at"),
        pl.col("_reopen_count").alias("reopen_count"),
        pl.col("_reassignment_count").alias("reassignment_count"),
        pl.col("_made_sla").alias("source_made_sla"),
        pl.col("problem_id").alias("problem_ref"),
        pl.coalesce("caused_by", "rfc").alias("change_ref"),
        pl.col("_sys_mod_count").alias("_mod"),
    )
    snapshots = snapshots.with_columns(_missing_before().alias("_missing"))
    markers = history.gap_marker(
        snapshots,
        pl.col("_missing"),
        pl.format(
            "{} update(s) missing from the export (sys_mod_count {} to {})",
            pl.col("_missing"),
            pl.col("_mod") - pl.col("_missing") - 1,
            pl.col("_mod"),
        ),
    )
    events = history.events_from_snapshots(
        snapshots.drop("resolved_at", "closed_at", "_mod", "_missing"),
        source_system=source_system,
        extra=[markers],
    )
    return ParsedExport(
        source=NAME,
        source_system=source_system,
        path=Path(path),
        rows_read=rows_read,
        skipped=skipped,
        incidents=_current_incidents(snapshots, source_system=source_system),
        events=events,
        rejects=found,
    )


def _missing_before() -> pl.Expr:
    """Updates missing before each snapshot: ServiceNow counts every update of a record in
    sys_mod_count (0 when it is created), so a jump from 2 to 5 lost updates 3 and 4, and a
    first exported row at 3 lost updates 0 to 2 (its creation counts as exported: `created`)."""
    first = pl.col("external_id").ne_missing(pl.col("external_id").shift(1))
    step = (
        pl.when(first).then(pl.col("_mod")).otherwise(pl.col("_mod") - pl.col("_mod").shift(1) - 1)
    )
    return pl.max_horizontal(step.fill_null(0), pl.lit(0)).cast(pl.Int32)


def _current_incidents(snapshots: pl.DataFrame, *, source_system: str) -> pl.DataFrame:
    """The last snapshot of each incident is the incident as it is now; the source's own
    resolution and closure times, and the updates the export lacks, beside it."""
    state = pl.col("state")
    first = pl.col("external_id").ne_missing(pl.col("external_id").shift(1))
    snapshots = snapshots.with_columns(
        pl.col("_missing").sum().over("external_id").alias("_missing_total"),
        pl.when(first).then(pl.col("state")).forward_fill().alias("_first_state"),
    )
    done = state.is_in(["resolved", "closed"])
    latest = (
        snapshots.filter(pl.col("external_id").ne_missing(pl.col("external_id").shift(-1)))
        .with_columns(
            pl.when(done).then(pl.col("resolved_at")).alias("source_resolved_at"),
            pl.when(state.is_in(["closed", "cancelled"]))
            .then(pl.col("closed_at"))
            .alias("source_closed_at"),
            (
                done
                & pl.col("_first_state").is_in(["resolved", "closed"])
                & pl.col("resolved_at").is_null()
            ).alias("resolution_time_unknown"),
            pl.col("_missing_total").alias("missing_updates"),
        )
        .with_columns(
            pl.lit(source_system).alias("source_system"),
            pl.col("occurred_at").alias("updated_at"),
            # A reopened ticket keeps its old resolution stamps in the source; drop them.
            pl.when(state.is_in(["resolved", "closed"]))
            .then(pl.coalesce("resolved_at", "occurred_at"))
            .alias("resolved_at"),
            pl.when(state.eq("closed"))
            .then(pl.coalesce("closed_at", "occurred_at"))
            .when(state.eq("cancelled"))
            .then(pl.col("closed_at"))
            .alias("closed_at"),
        )
    )
    return schema.conform(latest, "incidents")


def _rejects(frame: pl.DataFrame, date_format: str) -> pl.DataFrame:
    parts = [
        rejects.rejects_where(
            frame,
            pl.col("number").is_null(),
            column="number",
            reason=rejects.MISSING_KEY,
            value=pl.col("number"),
            detail="the incident number is empty",
        )
    ]
    for name in ("incident_state", "sys_updated_at", "opened_at"):
        parts.append(
            rejects.rejects_where(
                frame,
                pl.col(name).is_null(),
                column=name,
                reason=rejects.MISSING_VALUE,
                value=pl.col(name),
                detail=f"{name} is empty",
            )
        )
    parts.append(
        rejects.rejects_where(
            frame,
            parsing.unparsed("incident_state", "_state"),
            column="incident_state",
            reason=rejects.UNKNOWN_STATE,
            value=pl.col("incident_state"),
            detail="no mapping for this state",
        ).with_columns(
            pl.when(pl.col("value").eq(PLACEHOLDER_STATE))
            .then(pl.lit("-100 is ServiceNow's placeholder for a missing state"))
            .otherwise("detail")
            .alias("detail")
        )
    )
    for name in DATE_COLUMNS:
        parts.append(
            rejects.rejects_where(
                frame,
                parsing.unparsed(name, f"_{name}"),
                column=name,
                reason=rejects.BAD_DATE,
                value=pl.col(name),
                detail=f"not a date in the file's format ({date_format}) or not a real local time",
            )
        )
    for name in ("impact", "urgency", "priority"):
        parts.append(
            rejects.rejects_where(
                frame,
                parsing.unparsed(name, f"_{name}"),
                column=name,
                reason=rejects.UNKNOWN_VALUE,
                value=pl.col(name),
                detail=f"not a known {name} code",
            )
        )
    for name in ("sys_mod_count", "reassignment_count", "reopen_count"):
        parts.append(
            rejects.rejects_where(
                frame,
                parsing.unparsed(name, f"_{name}"),
                column=name,
                reason=rejects.BAD_NUMBER,
                value=pl.col(name),
                detail="not a whole number",
            )
        )
    return rejects.combine(parts)
