"""Speed of the marts: a full ``dbt build`` over a large history, then an incremental refresh.

1. Generates a ServiceNow audit export of N incidents with about 10 events each
   (``sampledata.generate``) and loads it through ingest (parse, then the COPY loader). Then it
   runs VACUUM (ANALYZE), as autovacuum soon would, so that the timed builds do not compete with
   it.
2. Times a full ``dbt build`` as the pipelines run it: models and data tests (``--unit-tests``
   adds dbt's unit tests, which check the SQL rather than the data and run in CI).
3. Loads 10,000 new incidents the same way and times the incremental ``dbt build``, then a
   refresh with nothing new (the floor of the scheduled refresh).
Prints the figures and the slowest models of each build (from dbt's run_results.json).

Run: python bench/marts.py [--incidents 1000000] [--new-incidents 10000] [--reuse]
[--incremental-only] [--threads N] [--target-dir DIR] [--unit-tests]
It uses a scratch database ``itsm_bench`` (dropped and re-created) on the server of
ITSM_DATABASE_URL, or else on the embedded server under ITSM_HOME. ``--reuse`` keeps the history
already loaded there by an earlier run and times the builds again (``--full-refresh`` for the
first), for comparing model changes on the same data; with ``--incremental-only`` it skips the
full build and times only the refreshes. Targets: full build 60 s or
less, incremental refresh 10 s or less. No asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

# `python bench/marts.py` puts bench/ first on sys.path, where bench/ingest.py (the name
# for the ingest benchmark) would shadow the ingest package: look in the repository root instead.
if not __package__:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import polars as pl
import psycopg
from sqlalchemy import create_engine, pool

from bench.scratch import scratch_database
from ingest.loader import load
from ingest.sources import parse
from ingest.sources.servicenow_audit import NAME as SERVICENOW_AUDIT
from operational.core.db import dbt_environment, libpq_url
from operational.core.migrate import upgrade
from pipelines.environment import DBT_PROJECT_DIR, OFFLINE
from sampledata.generate import write_servicenow_audit

EVENTS_PER_INCIDENT = 10
BENCH_DATABASE = "itsm_bench"


def loaded_history(url: str) -> tuple[int, datetime | None]:
    """Incidents already in the database and the last time one was opened."""
    with psycopg.connect(libpq_url(url)) as connection:
        count, last = connection.execute(
            "select count(*), max(opened_at) from operational.incidents"
        ).fetchone()
    return count, last


def vacuum_analyze(url: str) -> None:
    """What autovacuum does soon after a bulk load, done before the timed builds so that it does
    not compete with them for the two cores."""
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("vacuum (analyze)")


def renumber(path: Path, offset: int) -> None:
    """Shift the incident numbers of a generated export, so that its incidents are new."""
    frame = pl.read_csv(path, infer_schema=False)
    number = pl.col("number").str.slice(3).cast(pl.Int64) + offset
    frame.with_columns(
        pl.concat_str(pl.lit("INC"), number.cast(pl.String).str.zfill(7)).alias("number")
    ).write_csv(path)


def generate_and_load(
    path: Path, url: str, *, incidents: int, seed: int, start: datetime, offset: int
) -> dict[str, float]:
    figures: dict[str, float] = {}
    started = time.perf_counter()
    export = write_servicenow_audit(
        path, events=incidents * EVENTS_PER_INCIDENT, seed=seed, start=start
    )
    if offset:
        renumber(path, offset)
    figures["generate_s"] = time.perf_counter() - started
    figures["incidents"] = export.incidents
    figures["events"] = export.events

    started = time.perf_counter()
    parsed = parse(SERVICENOW_AUDIT, path)
    figures["parse_s"] = time.perf_counter() - started

    engine = create_engine(url, poolclass=pool.NullPool)
    started = time.perf_counter()
    load(parsed, engine=engine)
    figures["load_s"] = time.perf_counter() - started
    engine.dispose()
    return figures


def dbt_build(
    url: str,
    target: Path,
    *,
    full_refresh: bool = False,
    unit_tests: bool = False,
    threads: int | None = None,
) -> tuple[float, list[dict]]:
    """Run ``dbt build`` as the pipelines run it (models and data tests; the unit tests check
    SQL, not data, and run in CI); return its wall time and dbt's per-node results."""
    environment = {
        **os.environ,
        **OFFLINE,
        **dbt_environment(url),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
    }
    dbt = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"
    command = [dbt, "build", "--project-dir", str(DBT_PROJECT_DIR)]
    command += ["--profiles-dir", str(DBT_PROJECT_DIR), "--quiet"]
    command += ["--full-refresh"] if full_refresh else []
    command += [] if unit_tests else ["--exclude-resource-type", "unit_test"]
    command += ["--threads", str(threads)] if threads else []
    started = time.perf_counter()
    completed = subprocess.run(command, env=environment, cwd=DBT_PROJECT_DIR, check=False)
    seconds = time.perf_counter() - started
    results = json.loads((target / "run_results.json").read_text())["results"]
    failed = [result["unique_id"] for result in results if result["status"] in ("error", "fail")]
    if completed.returncode or failed:
        print(f"  dbt build failed ({completed.returncode}): {', '.join(failed) or 'see logs'}")
    return seconds, results


def print_breakdown(results: list[dict]) -> None:
    """Summed node times per kind: models and tests run in parallel threads, so these add up
    to more than the wall time."""
    totals: dict[str, float] = {}
    for result in results:
        kind = result["unique_id"].split(".")[0]
        totals[kind] = totals.get(kind, 0.0) + result["execution_time"]
    print("  summed node time: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(totals.items())))


def print_slowest(results: list[dict], count: int) -> None:
    for kind in ("model", "test"):
        nodes = [result for result in results if result["unique_id"].startswith(f"{kind}.")]
        if not nodes or not count:
            continue
        print(f"  slowest {kind}s:")
        for result in sorted(nodes, key=lambda item: item["execution_time"], reverse=True)[:count]:
            name = result["unique_id"].split(".")[2]
            print(f"    {result['execution_time']:>8.2f} s  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--new-incidents", type=int, default=10_000)
    parser.add_argument("--slowest", type=int, default=8, help="Slowest models to list.")
    parser.add_argument(
        "--reuse", action="store_true", help="Keep the history an earlier run loaded."
    )
    parser.add_argument(
        "--unit-tests", action="store_true", help="Run dbt's unit tests in both builds too."
    )
    parser.add_argument(
        "--incremental-only",
        action="store_true",
        help="With --reuse: skip the full build, time only the refreshes after new incidents.",
    )
    parser.add_argument(
        "--threads", type=int, help="dbt threads (default: profiles.yml, ITSM_DBT_THREADS)."
    )
    parser.add_argument(
        "--target-dir",
        type=Path,
        help="Keep dbt's target folder (compiled SQL, run_results.json, dbt.log) here.",
    )
    arguments = parser.parse_args()

    url = scratch_database(BENCH_DATABASE, reuse=arguments.reuse)
    upgrade(url)
    loaded, last_opened = loaded_history(url)
    with tempfile.TemporaryDirectory(prefix="itsm-bench-") as scratch:
        work = Path(scratch)
        if loaded and arguments.reuse:
            print(f"history: reusing {loaded:,} incidents already in {BENCH_DATABASE}")
        else:
            print(f"history: {arguments.incidents:,} incidents, ~{EVENTS_PER_INCIDENT} events each")
            history = generate_and_load(
                work / "history.csv",
                url,
                incidents=arguments.incidents,
                seed=7,
                # The generator opens one incident every ~7 minutes: the history and the new
                # incidents of this run and of a few --reuse runs all open before now, as real
                # tickets do.
                start=datetime.now()
                - timedelta(minutes=7 * (arguments.incidents + 5 * arguments.new_incidents)),
                offset=0,
            )
            print(
                f"  generated {history['incidents']:,.0f} incidents / "
                f"{history['events']:,.0f} events in {history['generate_s']:.1f} s; "
                f"parsed in {history['parse_s']:.1f} s; loaded in {history['load_s']:.1f} s"
            )
            loaded, last_opened = loaded_history(url)
            started = time.perf_counter()
            vacuum_analyze(url)
            print(f"  vacuum analyze after the bulk load: {time.perf_counter() - started:.1f} s")

        # One target folder for both builds: the second reuses dbt's partial parse, as the
        # scheduled refresh does.
        target = arguments.target_dir or work / "target"
        build = {"unit_tests": arguments.unit_tests, "threads": arguments.threads}
        if arguments.incremental_only and loaded and arguments.reuse:
            # A first refresh brings the marts up to date and leaves dbt's partial parse.
            catch_up_seconds, _ = dbt_build(url, target, **build)
            print(f"catching up with the history: {catch_up_seconds:.1f} s")
        else:
            full_seconds, full_results = dbt_build(
                url, target, full_refresh=arguments.reuse, **build
            )
            print(f"full dbt build: {full_seconds:.1f} s (target 60 s)")
            print_breakdown(full_results)
            print_slowest(full_results, arguments.slowest)

        # New incidents open after the history's last one, numbered after it.
        later = last_opened.replace(tzinfo=None) + timedelta(hours=1)
        new = generate_and_load(
            work / "new.csv",
            url,
            incidents=arguments.new_incidents,
            seed=8,
            start=later,
            offset=loaded + 1_000,
        )
        print(
            f"new: {new['incidents']:,.0f} incidents / {new['events']:,.0f} events"
            f" loaded in {new['load_s']:.1f} s"
        )
        incremental_seconds, incremental_results = dbt_build(url, target, **build)
        print(f"incremental dbt build: {incremental_seconds:.1f} s (target 10 s)")
        print_breakdown(incremental_results)
        print_slowest(incremental_results, arguments.slowest)

        idle_seconds, idle_results = dbt_build(url, target, **build)
        print(f"refresh with nothing new: {idle_seconds:.1f} s")
        print_breakdown(idle_results)


if __name__ == "__main__":
    main()
