"""The one background worker, above the domains: SLA warnings, breaches and escalations, then
the auto-close of resolved incidents.

It runs inside every ``itsm serve`` process (a thread started by the app's lifespan, when
``ITSM_RUN_WORKER`` is true) or on its own as ``itsm worker``. Each step is a flow of the domain
it works on (``operational.incidents.flows``), one transaction per incident. Any number may run
at once: each incident is processed under ``SELECT ... FOR UPDATE SKIP LOCKED``, and unique keys
on (timer, target, threshold) and (timer, rule) make a second recording impossible.
"""

import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from operational.core.db import _session_factory, create_worker_engine, session_scope
from operational.incidents import flows as incident_flows
from operational.requests import approvals as request_approvals
from operational.requests import flows as request_flows
from operational.requests import service as request_service
from operational.sla import timers as sla_timers

logger = logging.getLogger("operational.worker")


@dataclass
class ScanReport:
    """What one scan did."""

    processed: int = 0  # incidents recomputed
    skipped: int = 0  # incidents another transaction held (done by it, or by the next scan)
    failed: int = 0  # incidents whose processing raised (logged; retried by the next scan)
    escalations: int = 0  # escalation rules fired
    closed: int = 0  # resolved incidents auto-closed
    approvals_chased: int = 0  # request approvals reminded or escalated
    request_clocks: int = 0  # request items whose delivery clock was replayed


def _sessions(engine: Engine | None) -> Callable[[], Session]:
    if engine is None:
        return _session_factory()
    return sessionmaker(bind=engine, expire_on_commit=False)


def run_once(
    *,
    engine: Engine | None = None,
    now: datetime | None = None,
    batch_size: int = 500,
    auto_close: bool = True,
) -> ScanReport:
    """One scan: every incident with a warning or breach due by ``now`` or an escalation pending,
    one transaction each; then the auto-close job. ``now`` defaults to the wall clock."""
    now = now or datetime.now(UTC)
    make_session = _sessions(engine)
    report = ScanReport()
    last_id = 0
    while True:  # page through the backlog, batch by batch, each incident once
        with session_scope(make_session) as session:
            incident_ids = sla_timers.incidents_needing_attention(
                session=session, now=now, limit=batch_size, after_id=last_id
            )
        for incident_id in incident_ids:
            _process(make_session, incident_id, now, report)
        if len(incident_ids) < batch_size:
            break
        last_id = incident_ids[-1]
    if auto_close:
        report.closed = _auto_close(make_session, now)
    _requests(make_session, now, report, batch_size)
    return report


def _requests(
    make_session: Callable[[], Session], now: datetime, report: ScanReport, batch_size: int
) -> None:
    """Approvals past their reminder or escalation period, and request items whose delivery
    clock crosses a warning or its target: one transaction each."""
    with session_scope(make_session) as session:
        approval_ids = request_approvals.due_alerts(session=session, now=now, limit=batch_size)
        item_ids = request_service.items_due(session=session, now=now, limit=batch_size)
    steps = [(request_flows.chase_approval, "approval_id", id_) for id_ in approval_ids]
    steps += [(request_flows.refresh_clock, "item_id", id_) for id_ in item_ids]
    for step, key, record_id in steps:
        try:
            with session_scope(make_session) as session:
                step(session=session, now=now, **{key: record_id})
        except Exception:
            logger.exception("request step failed", extra={key: record_id})
            report.failed += 1
            continue
        if key == "approval_id":
            report.approvals_chased += 1
        else:
            report.request_clocks += 1


def _process(
    make_session: Callable[[], Session], incident_id: int, now: datetime, report: ScanReport
) -> None:
    try:
        with session_scope(make_session) as session:
            fired = incident_flows.process_sla(session=session, incident_id=incident_id, now=now)
    except Exception:
        logger.exception("SLA processing failed", extra={"incident_id": incident_id})
        report.failed += 1
        return
    if fired is None:
        report.skipped += 1
    else:
        report.processed += 1
        report.escalations += fired


def _auto_close(make_session: Callable[[], Session], now: datetime) -> int:
    try:
        with session_scope(make_session) as session:
            return incident_flows.close_resolved_incidents(session=session, now=now)
    except Exception:
        logger.exception("auto-close failed")
        return 0


def run_forever(
    *,
    stop: threading.Event,
    interval_seconds: float,
    engine: Engine | None = None,
) -> None:
    """Scan every ``interval_seconds`` until ``stop`` is set; a failed scan is logged, not fatal."""
    logger.info("SLA worker started", extra={"interval_seconds": interval_seconds})
    while not stop.is_set():
        try:
            report = run_once(engine=engine)
        except Exception:
            logger.exception("SLA scan failed")
        else:
            if any(report.__dict__.values()):
                logger.info("SLA scan", extra=report.__dict__)
        stop.wait(interval_seconds)
    logger.info("SLA worker stopped")


class BackgroundWorker:
    """The worker as a daemon thread of the API process (started and stopped by the lifespan)."""

    def __init__(self, *, interval_seconds: float, engine: Engine | None = None):
        self.interval_seconds = interval_seconds
        self.engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._own_engine = False

    def start(self) -> None:
        if self.engine is None:
            # Its own connection, never one of the API's pool: API load must not stop the scans.
            self.engine = create_worker_engine()
            self._own_engine = True
        self._thread = threading.Thread(
            target=run_forever,
            kwargs={
                "stop": self._stop,
                "interval_seconds": self.interval_seconds,
                "engine": self.engine,
            },
            name="sla-worker",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._own_engine and self.engine is not None and not self.running:
            self.engine.dispose()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


@contextmanager
def background_worker(*, enabled: bool, interval_seconds: float):
    """Run the worker thread for the duration of the block when ``enabled``."""
    if not enabled:
        yield None
        return
    worker = BackgroundWorker(interval_seconds=interval_seconds)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
