"""Speed of ingestion: a ServiceNow audit export of N events, imported cold, then again.

1. Generates an export yielding N events (default 1,000,000) with ``sampledata.generate`` (or
   reuses the one at ``--export``).
2. Cold import into an empty, migrated scratch database: parse (polars), then load (COPY,
   set-based upserts, one transaction per batch, ``--workers`` batches at once), each timed.
   The SLA timers are computed ``--sla inline`` (inside each batch, as ``itsm ingest`` does),
   ``after`` (``loader.backfill_sla`` over the imported incidents, timed apart) or ``skip``.
3. The same file again: the idempotent re-import, which must load nothing.

Prints wall-clock seconds, events/s, this process's CPU seconds and its workers', and the load
average (the machine is shared). With ``--workers 1`` it also prints the statements that took
the time (worker processes' statements are not seen).

Run: python bench/ingest.py [--events 1000000] [--batch-events 100000] [--workers 2]
                            [--sla after] [--export /tmp/audit_1m.csv]
It uses a scratch database ``itsm_bench_ingest`` (dropped and re-created) on the server of
ITSM_DATABASE_URL, or else on the embedded server under ITSM_HOME. Target: 100,000 events/s or
more for parse + load. No asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import create_engine, event, pool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database
from ingest import loader
from ingest.loader import copying
from ingest.sources import servicenow_audit
from operational.core.migrate import upgrade
from operational.events import service as events_service
from sampledata.generate import write_servicenow_audit


def statement_timer(engine) -> dict[str, float]:
    """Seconds per statement kind (first words of the SQL) in this process, COPY included."""
    spent: dict[str, float] = defaultdict(float)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(connection, cursor, statement, parameters, context, executemany):
        connection.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(connection, cursor, statement, parameters, context, executemany):
        words = " ".join(statement.split()).lower()
        kinds = (
            ("update operational.incidents", "update incidents (staged, changed only)"),
            ("from operational.events e where e.entity_type", "stored event positions"),
            ("nextval(pg_get_serial_sequence", "draw incident ids and numbers"),
            ("operational.team_members", "team members"),
            ("insert into operational.users", "people"),
            ("sla_", "SLA backfill statements"),
            ("event.entity_id", "SLA backfill statements"),
        )
        kind = next((name for marker, name in kinds if marker in words), "other: " + words[:40])
        spent[kind] += time.perf_counter() - connection.info["started"]

    def timed(function, kind):
        def run(*args, **kwargs):
            started = time.perf_counter()
            result = function(*args, **kwargs)
            spent[kind(*args, **kwargs)] += time.perf_counter() - started
            return result

        return run

    # COPY goes around SQLAlchemy's events: time the two functions that issue it.
    copying.copy_into = timed(copying.copy_into, lambda session, table, frame: f"COPY into {table}")
    events_service.copy_frame = timed(
        events_service.copy_frame, lambda **arguments: "COPY into operational.events"
    )
    return spent


class ProcessCpu:
    """CPU seconds of the processes on this machine whose command line contains `marker`,
    sampled from /proc every 0.2 s (a process that ends between two samples loses at most
    that much). Used for the PostgreSQL backends serving the bench database (when the server
    runs here) and for the loader's worker processes. None when no such process was seen."""

    def __init__(self, marker: str) -> None:
        self.marker = marker.encode()
        self.seen: dict[int, float] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _read(self) -> dict[int, float]:
        tick = os.sysconf("SC_CLK_TCK")
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if self.marker not in (entry / "cmdline").read_bytes().replace(b"\0", b" "):
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        return found

    def _sample(self) -> None:
        while not self.stopped.wait(0.2):
            self.seen.update(self._read())

    def __enter__(self) -> ProcessCpu:
        # Processes already running (a pool's server) count from now on.
        self.baseline = self._read()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        self.seen.update(self._read())

    @property
    def seconds(self) -> float | None:
        if not self.seen:
            return None
        return sum(used - self.baseline.get(pid, 0.0) for pid, used in self.seen.items())


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def timed_import(path: Path, engine, arguments) -> dict[str, float]:
    figures: dict[str, float] = {"load_average": os.getloadavg()[0]}
    own = cpu_seconds()
    started = time.perf_counter()
    parsed = servicenow_audit.parse(path)
    figures["parse_s"] = time.perf_counter() - started
    figures["parse_cpu_s"] = cpu_seconds() - own
    figures["events"] = parsed.events.height
    own = cpu_seconds()
    started = time.perf_counter()
    with ProcessCpu(f" {engine.url.database} ") as backends, ProcessCpu("forkserver") as workers:
        report = loader.load(
            parsed,
            engine=engine,
            batch_events=arguments.batch_events,
            sla_backfill=arguments.sla == "inline",
            workers=arguments.workers,
        )
        figures["load_s"] = time.perf_counter() - started
        figures["loaded"] = report.loaded
        figures["skipped"] = report.skipped
        if arguments.sla == "after" and report.incident_ids:
            started = time.perf_counter()
            loader.backfill_sla(engine, report.incident_ids, workers=arguments.workers)
            figures["sla_s"] = time.perf_counter() - started
            figures["sla_incidents"] = len(report.incident_ids)
    figures["cpu_own_s"] = cpu_seconds() - own
    figures["cpu_workers_s"] = workers.seconds or 0.0
    figures["cpu_database_s"] = backends.seconds
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-events", type=int, default=loader.DEFAULT_BATCH_EVENTS)
    parser.add_argument("--workers", type=int, default=loader.default_workers())
    parser.add_argument("--sla", choices=("inline", "after", "skip"), default="after")
    parser.add_argument("--export", type=Path, help="Export to reuse (generated if missing).")
    arguments = parser.parse_args()

    url = scratch_database("itsm_bench_ingest")
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    spent = statement_timer(engine)
    with tempfile.TemporaryDirectory() as folder:
        path = arguments.export or Path(folder) / "incident_audit.csv"
        if not path.exists():
            started = time.perf_counter()
            export = write_servicenow_audit(path, events=arguments.events)
            print(
                f"generated {export.events:,} events ({export.rows:,} rows, "
                f"{export.incidents:,} incidents) in {time.perf_counter() - started:.1f} s"
            )
        print(
            f"batches of {arguments.batch_events:,} events, {arguments.workers} worker(s), "
            f"SLA {arguments.sla}, {os.cpu_count()} CPUs"
        )
        for label in ("cold", "again (idempotent)"):
            spent.clear()
            figures = timed_import(path, engine, arguments)
            imported = figures["parse_s"] + figures["load_s"]
            print(
                f"{label}: parse {figures['parse_s']:.1f} s + load {figures['load_s']:.1f} s "
                f"= {imported:.1f} s -> {figures['events'] / imported:,.0f} events/s "
                f"(loaded {figures['loaded']:,}, skipped {figures['skipped']:,}; "
                f"load average {figures['load_average']:.1f})"
            )
            if "sla_s" in figures:
                total = imported + figures["sla_s"]
                print(
                    f"  + SLA backfill of {figures['sla_incidents']:,.0f} incidents "
                    f"{figures['sla_s']:.1f} s -> {figures['events'] / total:,.0f} events/s "
                    "with timers"
                )
            database = figures["cpu_database_s"]
            print(
                f"  CPU: parse {figures['parse_cpu_s']:.1f} s; load"
                + (" and SLA" if "sla_s" in figures else "")
                + f": this process {figures['cpu_own_s']:.1f} s, "
                f"workers {figures['cpu_workers_s']:.1f} s, PostgreSQL backends "
                + (f"{database:.1f} s" if database is not None else "not visible")
            )
            for kind, seconds in sorted(spent.items(), key=lambda item: -item[1])[:10]:
                print(f"    {seconds:7.2f} s  {kind}")
    engine.dispose()


if __name__ == "__main__":
    main()
