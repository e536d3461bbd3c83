"""Reconciliation of an import: per field, how many tickets the replay of the exported history
and the source's own figure agree on, and the largest differences.

The replay uses the definitions of the marts (dbt/README.md, "Source figures"):

- `resolved_at`: the last resolution (into resolved, or into closed from another state) of a
  ticket resolved or closed now; compared where the source gives a resolution time. A ticket
  whose resolution time is unknown (resolved in the first exported record, none given) is
  counted apart, as `unknown`.
- `closed_at`: the last move into closed of a ticket closed now; where the source gives one.
- `reassignment_count`: moves from one assignment group to another (both known, different).
- `reopen_count`: moves out of resolved or closed back into an open state.

Times agree when they fall in the same minute (exports write minutes); differences are in
minutes. The figures go to the import run (`import_runs.reconciliation`) and `itsm ingest`
prints them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

OPEN_STATES = ["new", "assigned", "in_progress", "on_hold"]
FIELDS = ("resolved_at", "closed_at", "reassignment_count", "reopen_count")
LARGEST = 5


def replayed(incidents: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Per ticket, the replayed figures, computed from the canonical events."""
    kind, field = pl.col("kind"), pl.col("field")
    old, new = pl.col("old_value"), pl.col("new_value")
    state_change = kind.eq("state_changed")
    resolution = new.eq("resolved") | (new.eq("closed") & old.ne_missing("resolved"))
    per_ticket = events.group_by("external_id").agg(
        (
            kind.eq("assigned")
            & field.eq("assignment_group")
            & old.is_not_null()
            & new.is_not_null()
            & old.ne(new)
        )
        .sum()
        .alias("replayed_reassignment_count"),
        (state_change & old.is_in(["resolved", "closed"]) & new.is_in(OPEN_STATES))
        .sum()
        .alias("replayed_reopen_count"),
        pl.col("occurred_at").filter(state_change & resolution).max().alias("_last_resolution"),
        pl.col("occurred_at").filter(state_change & new.eq("closed")).max().alias("_last_closure"),
    )
    state = pl.col("state")
    return incidents.join(per_ticket, on="external_id", how="left").select(
        "external_id",
        "state",
        pl.when(state.is_in(["resolved", "closed"]))
        .then(pl.col("_last_resolution"))
        .alias("replayed_resolved_at"),
        pl.when(state.eq("closed")).then(pl.col("_last_closure")).alias("replayed_closed_at"),
        pl.col("replayed_reassignment_count").fill_null(0).cast(pl.Int64),
        pl.col("replayed_reopen_count").fill_null(0).cast(pl.Int64),
        pl.col("source_resolved_at"),
        pl.col("source_closed_at"),
        pl.col("reassignment_count").cast(pl.Int64).alias("source_reassignment_count"),
        pl.col("reopen_count").cast(pl.Int64).alias("source_reopen_count"),
        pl.col("resolution_time_unknown").fill_null(False),
        pl.col("missing_updates"),
    )


def reconcile(incidents: pl.DataFrame, events: pl.DataFrame) -> dict[str, Any]:
    """The reconciliation figures of canonical incidents and their events (JSON-ready)."""
    if not incidents.height:
        return {"tickets": 0, "fields": {}}
    frame = replayed(incidents, events)
    fields: dict[str, Any] = {}
    for name in FIELDS:
        source, replay = pl.col(f"source_{name}"), pl.col(f"replayed_{name}")
        is_time = name.endswith("_at")
        compared = frame.filter(source.is_not_null())
        if is_time:
            compared = compared.filter(replay.is_not_null())
            difference = (replay - source).dt.total_seconds() / 60
            agree = replay.dt.truncate("1m").eq(source.dt.truncate("1m"))
        else:
            difference = replay - source
            agree = replay.eq(source)
        compared = compared.with_columns(difference.alias("difference"), agree.alias("agree"))
        differing = compared.filter(~pl.col("agree"))
        largest = differing.sort(
            pl.col("difference").abs(), "external_id", descending=[True, False]
        ).head(LARGEST)
        entry: dict[str, Any] = {
            "compared": compared.height,
            "agree": compared.height - differing.height,
            "differ": differing.height,
            "replay_lower": differing.filter(pl.col("difference") < 0).height,
            "replay_higher": differing.filter(pl.col("difference") > 0).height,
            "largest": [
                {
                    "external_id": row["external_id"],
                    "source": _plain(row[f"source_{name}"]),
                    "replayed": _plain(row[f"replayed_{name}"]),
                    "difference": round(float(row["difference"]), 1),
                }
                for row in largest.iter_rows(named=True)
            ],
        }
        if name == "resolved_at":
            entry["unknown"] = frame.filter(pl.col("resolution_time_unknown")).height
        fields[name] = entry
    gaps = frame.filter(pl.col("missing_updates").fill_null(0) > 0)
    return {
        "tickets": frame.height,
        "fields": fields,
        "tickets_with_gaps": gaps.height,
        "missing_updates": int(gaps.get_column("missing_updates").sum() or 0),
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def lines(figures: dict[str, Any]) -> list[str]:
    """The figures as lines of text, for the CLI."""
    out = []
    for name, entry in figures.get("fields", {}).items():
        if not entry["compared"] and not entry.get("unknown"):
            continue
        unit = " min" if name.endswith("_at") else ""
        text = f"{name}: replay and source agree on {entry['agree']:,} of {entry['compared']:,}"
        if entry["differ"]:
            worst = ", ".join(
                f"{item['external_id']} {item['difference']:+g}{unit}"
                for item in entry["largest"][:3]
            )
            text += (
                f"; replay lower on {entry['replay_lower']:,}, higher on "
                f"{entry['replay_higher']:,}; largest: {worst}"
            )
        if entry.get("unknown"):
            text += f"; resolution time unknown on {entry['unknown']:,}"
        out.append(text)
    if figures.get("tickets_with_gaps"):
        out.append(
            f"history gaps: {figures['tickets_with_gaps']:,} ticket(s) lack "
            f"{figures['missing_updates']:,} updates of the source"
        )
    return out
