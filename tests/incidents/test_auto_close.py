"""The worker's auto-close step against a committed database. (``incidents/jobs.py`` ran a
second auto-close loop beside the worker's and is gone; these tests hold the worker to it.)"""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from operational import worker
from operational.core.db import session_scope
from operational.incidents import flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate
from tests.factories import Factory


def _resolved_incident(resolved_at: datetime) -> int:
    with session_scope() as session:
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
        return incident.id


def _state(incident_id: int) -> str:
    with session_scope() as session:
        return session.scalar(select(Incident.state).where(Incident.id == incident_id))


def test_a_scan_closes_and_commits_in_its_own_transaction(committed_database):
    due = _resolved_incident(datetime.now(UTC) - timedelta(days=8))
    fresh = _resolved_incident(datetime.now(UTC) - timedelta(days=1))
    assert worker.run_once().closed == 1
    assert (_state(due), _state(fresh)) == ("closed", "resolved")


def test_the_background_worker_closes_until_stopped(committed_database):
    due = _resolved_incident(datetime.now(UTC) - timedelta(days=8))
    background = worker.BackgroundWorker(interval_seconds=0.05)
    background.start()
    polling = threading.Event()
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while _state(due) != "closed" and datetime.now(UTC) < deadline:
        polling.wait(0.05)
    background.stop(timeout=30)
    assert _state(due) == "closed"
    assert not background.running
