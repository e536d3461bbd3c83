"""The one background worker, above the domains: SLA warnings, breaches and escalations, then
the auto-close of resolved incidents, the request steps, the background bulk jobs
(``operational.bulk``, a chunk of records per transaction), every ``ITSM_AUDIT_SEAL_MINUTES`` a seal
of the event log's hash chains (``operational.audit``), and last the notifications dispatcher
(the outbox's messages out, then the daily digests; operational/notifications/dispatcher.py).

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
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from operational.audit import service as audit_service
from operational.automation import flows as automation_flows
from operational.bulk import flows as bulk_flows
from operational.core.config import get_settings
from operational.core.db import _session_factory, create_worker_engine, session_scope
from operational.incidents import flows as incident_flows
from operational.notifications import dispatcher as notifications
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
    delivered: int = 0  # notifications sent
    delivery_failures: int = 0  # notification tries that failed (retried later, or dead)
    digests: int = 0  # daily digests written
    bulk_records: int = 0  # records of background bulk jobs processed
    scheduled_rules: int = 0  # scheduled automation rules run
    rules_fired: int = 0  # ... and the records they fired on


# Records of a bulk job processed per transaction (the job's progress shows after each), and at
# most this many per scan, so that a large job does not hold up the SLA scans.
BULK_CHUNK = 50
BULK_RECORDS_PER_SCAN = 1000


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
    dispatch: bool = True,
) -> ScanReport:
    """One scan: every incident with a warning or breach due by ``now`` or an escalation pending,
    one transaction each; then the auto-close job. ``now`` defaults to the wall clock."""
    now = now or datetime.now(UTC)
    make_session = _sessions(engine)
    report = ScanReport()
    automation_flows.install()  # what the steps below change runs the rules too
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
    run_bulk_jobs(make_session, report)
    _scheduled_rules(make_session, now, report, batch_size)
    if dispatch:
        _hand_over(make_session, now, report)
        _dispatch(make_session, report)
    return report


def _scheduled_rules(
    make_session: Callable[[], Session], now: datetime, report: ScanReport, batch_size: int
) -> None:
    """Scheduled automation rules that are due, over the open records (one transaction each)."""
    try:
        ran = automation_flows.run_schedules(
            make_session=make_session, now=now, batch_size=batch_size
        )
    except Exception:
        logger.exception("scheduled automation rules failed")
        report.failed += 1
        return
    report.scheduled_rules = ran.rules
    report.rules_fired = ran.fired


def _hand_over(make_session: Callable[[], Session], now: datetime, report: ScanReport) -> None:
    """Escalation notifications not in the outbox yet (recorded before it existed)."""
    try:
        with session_scope(make_session) as session:
            incident_flows.hand_over_older_sla_notifications(session=session, now=now)
    except Exception:
        logger.exception("handing over SLA notifications failed")
        report.failed += 1


def _dispatch(make_session: Callable[[], Session], report: ScanReport) -> None:
    """Digests first (they join the queue), then the outbox's due messages, by the wall clock
    (a message is due by the real time, whatever ``now`` the scan was given)."""
    try:
        report.digests = notifications.send_digests(make_session=make_session)
        sent = notifications.run(make_session=make_session)
    except Exception:
        logger.exception("notification dispatch failed")
        report.failed += 1
        return
    report.delivered = sent.delivered
    report.delivery_failures = sent.failed


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


def run_bulk_jobs(
    make_session: Callable[[], Session],
    report: ScanReport,
    *,
    chunk: int = BULK_CHUNK,
    budget: int = BULK_RECORDS_PER_SCAN,
) -> None:
    """Carry on with the queued and running bulk jobs, oldest first, a chunk per transaction,
    up to ``budget`` records; a job another worker holds is left to it."""
    last_id = 0
    while report.bulk_records < budget:
        with session_scope(make_session) as session:
            job_id = bulk_flows.next_job(session=session, after_id=last_id)
        if job_id is None:
            return
        last_id = job_id
        while report.bulk_records < budget:
            try:
                with session_scope(make_session) as session:
                    step = bulk_flows.work_on(
                        session=session,
                        job_id=job_id,
                        limit=min(chunk, budget - report.bulk_records),
                    )
            except Exception as exc:
                logger.exception("bulk job failed", extra={"bulk_job_id": job_id})
                report.failed += 1
                with session_scope(make_session) as session:
                    bulk_flows.fail_job(session=session, job_id=job_id, error=str(exc)[:2000])
                break
            if step is None:
                break
            report.bulk_records += step.processed
            if step.finished:
                break


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


def seal_audit_trail(*, engine: Engine | None = None) -> bool:
    """Seal the event log when the last seal is older than ``ITSM_AUDIT_SEAL_MINUTES`` and
    events came since; True when it sealed. Failures are logged, never fatal."""
    settings = get_settings()
    if not settings.audit_seal_minutes:
        return False
    try:
        with session_scope(_sessions(engine)) as session:
            sealed = audit_service.seal_if_due(
                session=session,
                key=settings.audit_key.get_secret_value(),
                every=timedelta(minutes=settings.audit_seal_minutes),
            )
    except Exception:
        logger.exception("audit seal failed")
        return False
    if sealed is not None:
        logger.info("audit seal", extra={"seal_id": sealed.id, "chains": sealed.chain_count})
    return sealed is not None


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
        seal_audit_trail(engine=engine)
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
