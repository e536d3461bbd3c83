import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from operational.core.db import session_scope
from operational.incidents import jobs, service
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate
from tests.factories import Factory


def _resolved_incident(resolved_at: datetime) -> int:
    with session_scope() as session:
        agent = Factory(session).user(roles=("agent",))
        incident = service.create(
            session=session,
            data=IncidentCreate(title="Old", assignee_id=agent.id),
            actor=agent,
            now=resolved_at,
        )
        service.transition(
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


def test_run_auto_close_commits_its_own_pass(committed_database):
    due = _resolved_incident(datetime.now(UTC) - timedelta(days=8))
    fresh = _resolved_incident(datetime.now(UTC) - timedelta(days=1))
    assert jobs.run_auto_close() == 1
    assert (_state(due), _state(fresh)) == ("closed", "resolved")


def test_auto_close_loop_runs_until_stopped(committed_database):
    due = _resolved_incident(datetime.now(UTC) - timedelta(days=8))
    stop = threading.Event()
    worker = threading.Thread(target=jobs.auto_close_loop, args=(stop,), daemon=True)
    worker.start()
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while _state(due) != "closed" and datetime.now(UTC) < deadline:
        stop.wait(0.05)
    stop.set()
    worker.join(timeout=30)
    assert _state(due) == "closed"
    assert not worker.is_alive()
