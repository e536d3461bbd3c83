"""The worker against committed databases: concurrent scanners, the serve thread, the CLI."""

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, pool, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from operational import worker
from operational.core.config import Settings
from operational.events.models import Event
from operational.sla.models import SlaEscalation, SlaNotification, SlaPolicy
from operational.sla.schemas import EscalationRuleCreate
from tests.sla.conftest import SlaKit

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _committed_setup(url: str, *, incidents: int, opened_at: datetime) -> list[int]:
    """Policy (response 30, resolution 60 min, 24x7), two notify rules, breached incidents."""
    from operational.sla import service as sla_service
    from tests.factories import Factory

    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        session.execute(update(SlaPolicy).values(is_active=False))
        kit = SlaKit(session, Factory(session))
        kit.policy(response=30, resolution=60)
        team = kit.factory.team(name="Escalations")
        for threshold in (75, 100):
            sla_service.create_rule(
                session=session,
                data=EscalationRuleCreate(
                    name=f"notify at {threshold}",
                    threshold=threshold,
                    action="notify",
                    team_id=team.id,
                ),
            )
        ids = []
        for _ in range(incidents):
            incident = kit.incident(opened_at=opened_at)
            kit.recompute(incident, now=opened_at)  # as the incident service does on create
            ids.append(incident.id)
        session.commit()
    engine.dispose()
    return ids


def _count_events(session: Session, kind: str) -> list[tuple[int, str, str | None, int]]:
    """(incident, target, value, how many) for every group of events of ``kind``."""
    return list(
        session.execute(
            select(Event.entity_id, Event.field, Event.new_value, func.count())
            .where(Event.kind == kind, Event.entity_type == "incident")
            .group_by(Event.entity_id, Event.field, Event.new_value)
        ).all()
    )


def test_two_concurrent_scanners_escalate_each_breach_once(fresh_database):
    url = fresh_database("sla_scanners")
    ids = _committed_setup(url, incidents=40, opened_at=T0)
    now = T0 + timedelta(hours=2)
    start = threading.Barrier(2)
    reports: list[worker.ScanReport] = []
    errors: list[BaseException] = []

    def scan() -> None:
        engine = create_engine(url, poolclass=pool.NullPool)  # its own connections
        try:
            start.wait()
            # Small pages: each scanner pages through the 40 due incidents in batches of 7.
            reports.append(worker.run_once(engine=engine, now=now, auto_close=False, batch_size=7))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [report.failed for report in reports] == [0, 0]
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        breaches = _count_events(session, "sla_breached")
        warnings = _count_events(session, "sla_warning")
        escalated = _count_events(session, "escalated")
        escalations = session.scalar(select(func.count()).select_from(SlaEscalation))
        notifications = session.scalar(select(func.count()).select_from(SlaNotification))
    engine.dispose()
    # Two timers per incident, each breached once, each warned once at 75 % and at 90 %.
    assert sorted((incident, target) for incident, target, _, n in breaches if n == 1) == sorted(
        (incident, target) for incident in ids for target in ("resolution", "response")
    )
    assert all(n == 1 for *_, n in breaches + warnings)
    assert len(warnings) == len(ids) * 2 * 2
    # Two rules x two timers x 40 incidents, each fired (and notified) exactly once.
    assert escalations == notifications == len(ids) * 2 * 2
    assert sum(n for *_, n in escalated) == len(ids) * 2 * 2


def test_the_serve_thread_finds_a_breach_by_itself(fresh_database):
    url = fresh_database("sla_thread")
    # Opened two hours ago on the wall clock: both timers (30 and 60 minutes) have breached.
    _committed_setup(url, incidents=1, opened_at=datetime.now(UTC) - timedelta(hours=2))
    engine = create_engine(url, poolclass=pool.NullPool)
    background = worker.BackgroundWorker(interval_seconds=1, engine=engine)
    background.start()
    try:
        found = threading.Event()
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while datetime.now(UTC) < deadline and not found.is_set():
            with Session(engine) as session:
                notified = session.scalar(select(func.count()).select_from(SlaNotification))
            if notified == 4:  # 75 % and breach, on both timers
                found.set()
            else:
                found.wait(0.2)
        assert background.running
    finally:
        background.stop()
    assert found.is_set()
    with Session(engine) as session:
        assert len(_count_events(session, "sla_breached")) == 2
    engine.dispose()
    assert not background.running


def test_itsm_worker_once_runs_one_scan(committed_database):
    from operational.cli import app

    _committed_setup(
        committed_database, incidents=2, opened_at=datetime.now(UTC) - timedelta(hours=3)
    )
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "processed 2 incidents, fired 8 escalations" in result.output
    again = CliRunner().invoke(app, ["worker", "--once"])
    assert "fired 0 escalations" in again.output


def test_the_worker_runs_in_serve_but_not_under_tests():
    assert Settings(environment="test").run_worker is False
    assert Settings(environment="test", run_worker=True).run_worker is True
    assert Settings(environment="development").run_worker is True
    with pytest.raises(ValueError, match="less than or equal to 30"):
        Settings(worker_interval_seconds=45)


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sla-worker" and t.is_alive()]


def test_the_app_lifespan_starts_and_stops_the_worker_thread(committed_database):
    from fastapi.testclient import TestClient

    from operational.core.config import get_settings
    from operational.main import create_app

    os.environ["ITSM_RUN_WORKER"] = "true"
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            assert client.get("/healthz").status_code == 200
            assert len(_worker_threads()) == 1
        assert _worker_threads() == []
    finally:
        del os.environ["ITSM_RUN_WORKER"]
        get_settings.cache_clear()
    with TestClient(create_app()):
        assert _worker_threads() == []


def test_a_scan_also_auto_closes_long_resolved_incidents(fresh_database):
    from operational.incidents.models import Incident
    from tests.factories import Factory

    url = fresh_database("sla_autoclose")
    engine = create_engine(url, poolclass=pool.NullPool)
    now = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
    with Session(engine) as session:
        kit = SlaKit(session, Factory(session))
        old, recent = (kit.incident(opened_at=T0) for _ in range(2))
        for incident, resolved_at in ((old, now - timedelta(days=8)), (recent, now)):
            kit.move(incident, resolved_at, "resolved")
            incident.resolved_at = resolved_at
        session.commit()
        ids = old.id, recent.id
    report = worker.run_once(engine=engine, now=now)
    assert report.closed == 1
    with Session(engine) as session:
        states = [session.get(Incident, incident_id).state for incident_id in ids]
    assert states == ["closed", "resolved"]
    engine.dispose()
