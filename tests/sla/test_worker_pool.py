"""API load never stops the SLA worker: the worker thread of ``itsm serve`` has a connection of
its own, so it scans (here: auto-closes) while every connection of the API's pool is taken."""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import sessionmaker

from operational import worker
from operational.core.config import get_settings
from operational.core.db import _session_factory, get_engine, session_scope
from operational.incidents import flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate
from tests.factories import Factory


def test_the_worker_scans_while_the_api_pool_is_exhausted(committed_database, monkeypatch):
    monkeypatch.setenv("ITSM_DB_POOL_SIZE", "2")
    monkeypatch.setenv("ITSM_DB_MAX_OVERFLOW", "0")
    for cached in (get_settings, get_engine, _session_factory):
        cached.cache_clear()
    side = create_engine(committed_database, poolclass=pool.NullPool)
    outside = sessionmaker(bind=side, expire_on_commit=False)
    resolved_at = datetime.now(UTC) - timedelta(days=8)
    with session_scope(outside) as session:
        agent = Factory(session).user(roles=("agent",))
        incident = flows.create(
            session=session,
            data=IncidentCreate(title="Old", assignee_id=agent.id),
            actor=agent,
            now=resolved_at,
        ).incident
        flows.transition(
            session=session,
            incident=incident,
            actor=agent,
            state="resolved",
            resolution_code="solved_permanently",
            resolution_notes="Done",
            now=resolved_at,
        )
        incident_id = incident.id

    def state() -> str:
        with session_scope(outside) as session:
            return session.scalar(select(Incident.state).where(Incident.id == incident_id))

    api = get_engine()
    held = [api.connect() for _ in range(2)]  # the whole API pool, as under load
    background = worker.BackgroundWorker(interval_seconds=0.05)
    try:
        assert api.pool.checkedout() == 2
        background.start()
        polling = threading.Event()
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while state() != "closed" and datetime.now(UTC) < deadline:
            polling.wait(0.05)
        assert state() == "closed"
        assert api.pool.checkedout() == 2  # the scan took none of the API's connections
    finally:
        background.stop(timeout=30)
        for connection in held:
            connection.close()
        side.dispose()
    assert not background.running
