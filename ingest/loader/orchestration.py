"""A load from start to end: the run record, the batches (one transaction each), the worker
processes that run ticket batches at once, and the SLA backfill.

A killed import leaves nothing behind. Each batch is one transaction, so a kill loses at most the
batches in flight, whole, and a re-run skips what was committed. The worker processes watch the
process that started them and exit when it is gone (``_watch_parent``): no orphan keeps a
database connection open. The run records its process (``pid``, ``host``); a run still
``running`` whose process is gone is marked failed when the next run starts
(``fail_abandoned_runs``)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    wait,
)
from datetime import UTC, datetime
from functools import cache, partial
from multiprocessing import get_context
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from ingest.loader.changes import load_change_approvals, load_changes
from ingest.loader.cmdb import load_ci_relationships, load_configuration_items
from ingest.loader.custom_fields import has_values, type_values
from ingest.loader.incidents import load_csat, load_incidents, load_people_and_teams
from ingest.loader.problems import link_problem_refs, load_problems
from ingest.loader.report import EntityCounts, LoadReport, all_rejects, write_rejects
from ingest.loader.requests import (
    load_request_approvals,
    load_request_items,
    load_request_tasks,
    load_requests,
)
from ingest.parsed import ParsedExport
from ingest.reconcile import reconcile

DEFAULT_BATCH_EVENTS = 100_000
# Batches that compute SLA timers cost several times more per event: on parallel workers they
# are cut to at least this many per worker (not below SLA_MIN_BATCH_EVENTS), so that the last
# ones do not run alone (300,000 events in 3 batches on 2 workers took two rounds, one of them
# with a worker idle).
SLA_BATCHES_PER_WORKER = 4
SLA_MIN_BATCH_EVENTS = 10_000
Progress = Callable[[int, int], None]  # (tickets done, tickets total)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sla_batch_events(batch_events: int, events: int, workers: int) -> int:
    """The batch size for `events` whose batches compute SLA timers on `workers` processes:
    at most `batch_events`, small enough for SLA_BATCHES_PER_WORKER batches per worker, not
    below SLA_MIN_BATCH_EVENTS."""
    spread = -(-events // (SLA_BATCHES_PER_WORKER * workers))
    return min(batch_events, max(spread, SLA_MIN_BATCH_EVENTS))


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
        reconciliation=reconcile(parsed.incidents, parsed.events),
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
    fail_abandoned_runs(engine)
    report.run_id = _start_run(engine, parsed, dry_run=dry_run)
    try:
        run()
    except BaseException as error:
        _finish_run(engine, report, status="failed", error=repr(error)[:2000])
        raise
    _finish_run(engine, report, status="succeeded")
    return report


def _start_run(engine: Engine | Connection, parsed: ParsedExport, *, dry_run: bool) -> int:
    with _session(engine) as session, session.begin():
        return session.execute(
            text(
                """
                insert into operational.import_runs (source, source_system, file_name,
                    file_sha256, dry_run, status, started_at, rows_read, rejected, pid, host)
                values (:source, :source_system, :file_name, :sha, :dry_run, 'running', :now,
                    :rows_read, :rejected, :pid, :host)
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
                "pid": os.getpid(),
                "host": socket.gethostname(),
            },
        ).scalar_one()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def fail_abandoned_runs(engine: Engine | Connection) -> list[int]:
    """Mark failed the runs of this host still ``running`` whose process is gone (killed, or
    the machine restarted); returns their ids. Runs of other hosts cannot be checked from here
    and are left alone."""
    host = socket.gethostname()
    with _session(engine) as session, session.begin():
        running = session.execute(
            text(
                "select id, pid from operational.import_runs "
                "where status = 'running' and host = :host and pid is not null for update"
            ),
            {"host": host},
        ).all()
        gone = [
            row.id for row in running if row.pid != os.getpid() and not _process_exists(row.pid)
        ]
        if gone:
            session.execute(
                text(
                    """
                    update operational.import_runs
                    set status = 'failed', finished_at = :now,
                        error = 'abandoned: process ' || pid || ' on ' || host
                            || ' is gone (killed?); its committed batches stay, and a re-run '
                            || 'of the file skips them'
                    where id = any(:ids)
                    """
                ),
                {"now": datetime.now(UTC), "ids": gone},
            )
    return gone


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
                    batches_committed = :batches, rejects_path = :rejects_path, error = :error,
                    reconciliation = cast(:reconciliation as jsonb)
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
                "reconciliation": json.dumps(report.reconciliation),
                "id": report.run_id,
            },
        )


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
    counts, touched = load_incidents(session, incidents, events, source_system)
    counts |= link_problem_refs(session, touched, source_system)
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

    # Custom field values typed by their definitions, records that break them refused.
    if has_values(parsed):
        _run_batch(engine, dry_run, lambda s: type_values(s, parsed, report))

    # Reference data first: incidents and changes point at CIs.
    for name, loader in (
        ("configuration_items", load_configuration_items),
        ("ci_relationships", load_ci_relationships),
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
            lambda s: merge({"changes": load_changes(s, parsed.changes, parsed.source_system)}),
        )
        report.batches += 1
    if parsed.change_approvals.height:
        _run_batch(
            engine,
            dry_run,
            lambda s: merge(
                {
                    "change_approvals": load_change_approvals(
                        s, parsed.change_approvals, parsed.source_system, report
                    )
                }
            ),
        )
        report.batches += 1

    if parsed.problems.height:
        _run_batch(
            engine,
            dry_run,
            lambda s: merge({"problems": load_problems(s, parsed.problems, parsed.source_system)}),
        )
        report.batches += 1

    # Requests, their items, tasks and approvals, each with its history (one file each).
    for name, request_loader in (
        ("requests", load_requests),
        ("request_items", load_request_items),
        ("request_tasks", load_request_tasks),
        ("request_approvals", load_request_approvals),
    ):
        frame = getattr(parsed, name)
        if frame.height:
            _run_batch(
                engine,
                dry_run,
                lambda s, f=frame, fn=request_loader, n=name: merge(
                    {n: fn(s, f, parsed.request_events, parsed.source_system, report)}
                ),
            )
            report.batches += 1

    if parsed.incidents.height:
        could_fork = (
            workers > 1 and isinstance(engine, Engine) and not dry_run and workers_possible()
        )
        if sla_backfill and could_fork:
            batch_events = sla_batch_events(batch_events, parsed.events.height, workers)
        batches = list(ticket_batches(parsed.incidents, parsed.events, batch_events))
        # Parallel batches need their own connections (not a test's outer transaction) and
        # would each roll back what a dry run's people and teams batch wrote. Workers cost
        # their start (about 1.5 CPU-seconds, importing the loader and the SLA engine once):
        # worth it for two batches per worker, or batches that compute SLA timers.
        worth_it = len(batches) >= 2 * workers or (sla_backfill and len(batches) > 1)
        parallel = could_fork and worth_it
        workers = min(workers, len(batches)) if parallel else 1
        report.workers = workers
        pool = _process_pool(workers) if parallel else None
        try:
            _run_batch(
                engine,
                dry_run,
                lambda s: load_people_and_teams(
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
        _run_batch(engine, dry_run, lambda s: merge({"csat": load_csat(s, parsed.csat)}))
        report.batches += 1


# How often a worker looks whether the process that started it is still there.
WATCHDOG_SECONDS = 0.5


def _watch_parent(loader_pid: int) -> None:
    """In each worker: exit at once when the loading process is gone (``kill -9`` of
    ``itsm ingest``). The pool's own machinery notices a dead parent only when it next hands
    out work, which a worker busy with a batch never asks for; meanwhile it would hold its
    database connection and transaction open. Exiting closes both: PostgreSQL rolls the batch
    in flight back."""
    forkserver = os.getppid()

    def watch() -> None:
        while not stop.wait(WATCHDOG_SECONDS):
            if os.getppid() != forkserver or not _process_exists(loader_pid):
                os._exit(70)  # no cleanup to run: the parent that would want it is gone

    stop = threading.Event()
    threading.Thread(target=watch, name="loader-watchdog", daemon=True).start()


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """Workers forked from a server process that only imported the loader and the SLA engine:
    they start in milliseconds (spawning imports everything anew, seconds on a busy machine),
    and never inherit the parent's threads (polars) or connections, as plain forks would. Each
    watches this process and exits when it dies (``_watch_parent``)."""
    context = get_context("forkserver")
    # The package imports every module a worker runs; the incident flows are `_backfill_sla`'s.
    context.set_forkserver_preload(["ingest.loader", "operational.incidents.flows"])
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_watch_parent,
        initargs=(os.getpid(),),
    )


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
    from operational.incidents import flows as incident_flows

    # The loader's one call into the SLA engine, through the incident flows (and the preload).
    incident_flows.backfill_sla(session=session, incident_ids=incident_ids)
