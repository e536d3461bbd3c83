"""Reconciliation of a realistic ServiceNow audit export: the figures a replay of the exported
snapshots gives (before issue 13) against those with the source's own fields (after).

1. Generates a complete audit export with ``sampledata.generate`` (every update exported).
2. Makes it look like a real incident event log, seeded: each update after an incident's first is
   left out with probability ``--drop`` (gaps in ``sys_mod_count``: reassignments, reopens and
   state changes between the remaining snapshots are lost); ``--resolved-first`` of the
   incidents start at their first Resolved row with ``resolved_at`` blank (resolved before the
   export began); and ``--late`` of the resolutions carry a ``resolved_at`` later than the
   first Resolved snapshot (by 5 to 240 minutes). Dates are rewritten as dd-MM-yyyy HH:mm,
   ``made_sla`` as TRUE/FALSE, as a spreadsheet would.
3. Parses it (the ServiceNow audit source) and prints, with the marts' definitions
   (dbt/README.md, "Source figures"): MTTR mean and median over resolved incidents, the share
   reassigned, and the incidents reopened, computed from the replay alone (before) and with the
   source's figures (after: source resolved_at, counters, unknown resolution times left out);
   then the reconciliation lines ``itsm ingest`` prints.

Run: python bench/reconciliation.py [--events 300000] [--drop 0.3] [--resolved-first 0.05]
                                    [--late 0.1] [--seed 13]
No database and no asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import reconcile, sources
from sampledata import generate


def _day_first(value: str) -> str:
    """29/2/2016 1:16 -> 29-02-2016 01:16"""
    if value in ("?", ""):
        return value
    moment = datetime.strptime(value, "%d/%m/%Y %H:%M")
    return moment.strftime("%d-%m-%Y %H:%M")


def realistic(path: Path, out: Path, *, drop: float, first: float, late: float, seed: int):
    rng = random.Random(seed)
    frame = pl.read_csv(path, infer_schema=False)
    rows = frame.to_dicts()
    kept: list[dict] = []
    by_incident: dict[str, list[dict]] = {}
    for row in rows:
        by_incident.setdefault(row["number"], []).append(row)
    for history in by_incident.values():
        resolved = [i for i, row in enumerate(history) if row["incident_state"] == "Resolved"]
        if resolved and rng.random() < first:
            history = history[resolved[0] :]
            for row in history:
                row["resolved_at"] = "?"
        elif resolved and rng.random() < late:
            shift = rng.randrange(5, 240)
            moment = datetime.strptime(history[resolved[0]]["sys_updated_at"], "%d/%m/%Y %H:%M")
            # resolved_at later than the first Resolved snapshot
            stamp = generate.servicenow_time(moment + timedelta(minutes=shift))
            for row in history[resolved[0] :]:
                if row["resolved_at"] not in ("?", None):
                    row["resolved_at"] = stamp
        kept.append(history[0])
        kept += [row for row in history[1:] if rng.random() >= drop]
    for row in kept:
        for name in ("opened_at", "sys_created_at", "sys_updated_at", "resolved_at", "closed_at"):
            row[name] = _day_first(row[name] or "?")
        row["made_sla"] = row["made_sla"].upper()
    pl.DataFrame(kept, schema=frame.schema).write_csv(out)
    return len(kept), len(by_incident)


def figures(parsed) -> dict[str, dict[str, float]]:
    frame = reconcile.replayed(parsed.incidents, parsed.events).join(
        parsed.incidents.select("external_id", "opened_at"), on="external_id"
    )
    resolved = frame.filter(pl.col("state").is_in(["resolved", "closed"]))
    before_minutes = (pl.col("replayed_resolved_at") - pl.col("opened_at")).dt.total_seconds() / 60
    after_resolved = pl.coalesce("source_resolved_at", "replayed_resolved_at")
    after_minutes = (
        pl.when(~pl.col("resolution_time_unknown"))
        .then((after_resolved - pl.col("opened_at")).dt.total_seconds() / 60)
        .otherwise(None)
    )
    measured = resolved.select(
        before_minutes.alias("before"),
        after_minutes.alias("after"),
        pl.col("replayed_reassignment_count").gt(0).alias("before_reassigned"),
        pl.coalesce("source_reassignment_count", "replayed_reassignment_count")
        .gt(0)
        .alias("after_reassigned"),
        pl.col("replayed_reopen_count").gt(0).alias("before_reopened"),
        pl.coalesce("source_reopen_count", "replayed_reopen_count").gt(0).alias("after_reopened"),
    )
    out = {}
    for side in ("before", "after"):
        minutes = measured.get_column(side).drop_nulls()
        out[side] = {
            "resolved": measured.height,
            "covered": minutes.len(),
            "mttr_hours": minutes.mean() / 60,
            "median_hours": minutes.median() / 60,
            "reassigned": int(measured.get_column(f"{side}_reassigned").sum()),
            "reopened": int(measured.get_column(f"{side}_reopened").sum()),
            "zero_minute": int((minutes <= 0).sum()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--drop", type=float, default=0.3)
    parser.add_argument("--resolved-first", type=float, default=0.05)
    parser.add_argument("--late", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=13)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        complete = Path(folder) / "complete.csv"
        generate.write_servicenow_audit(complete, events=arguments.events, seed=arguments.seed)
        export = Path(folder) / "incident_event_log.csv"
        rows, incidents = realistic(
            complete,
            export,
            drop=arguments.drop,
            first=arguments.resolved_first,
            late=arguments.late,
            seed=arguments.seed,
        )
        parsed = sources.parse("servicenow-audit", export)
    print(f"export: {rows:,} rows, {incidents:,} incidents, {parsed.rejected:,} rejected")
    result = figures(parsed)
    print(f"{'':28}{'before (replay)':>18}{'after (source)':>18}")
    for key, label, fmt in (
        ("resolved", "resolved incidents", "{:,.0f}"),
        ("covered", "  of which in MTTR", "{:,.0f}"),
        ("mttr_hours", "MTTR mean (h)", "{:,.2f}"),
        ("median_hours", "MTTR median (h)", "{:,.2f}"),
        ("zero_minute", "zero-minute resolutions", "{:,.0f}"),
        ("reassigned", "reassigned incidents", "{:,.0f}"),
        ("reopened", "reopened incidents", "{:,.0f}"),
    ):
        before, after = (fmt.format(result[side][key]) for side in ("before", "after"))
        print(f"{label:28}{before:>18}{after:>18}")
    print("reconciliation (as itsm ingest prints it):")
    for line in reconcile.lines(reconcile.reconcile(parsed.incidents, parsed.events)):
        print(f"  {line}")


if __name__ == "__main__":
    main()
