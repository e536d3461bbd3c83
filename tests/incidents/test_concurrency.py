"""Two agents updating the same version at once: one wins, the other gets 412, nothing is lost."""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.errors import PreconditionFailed
from operational.incidents import flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate, IncidentUpdate
from tests.factories import Factory


def _wait_until(condition, *, seconds: float = 30) -> bool:
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    pause = threading.Event()
    while datetime.now(UTC) < deadline:
        if condition():
            return True
        pause.wait(0.02)
    return False


def test_concurrent_updates_of_one_version_never_both_win(fresh_database):
    engine = create_engine(fresh_database("concurrency"), poolclass=pool.NullPool)
    try:
        with Session(engine) as setup:
            first = Factory(setup).user(roles=("agent",))
            second = Factory(setup).user(roles=("agent",))
            incident_id = flows.create(
                session=setup, data=IncidentCreate(title="Original"), actor=first
            ).incident.id
            first_id, second_id = first.id, second.id
            setup.commit()

        outcome: dict[str, object] = {}

        def second_agent() -> None:
            with Session(engine) as session:
                pid = session.execute(text("select pg_backend_pid()")).scalar()
                outcome["pid"] = pid
                incident = session.get(Incident, incident_id)
                agent = session.get(User, second_id)
                try:
                    flows.update(
                        session=session,
                        incident=incident,
                        data=IncidentUpdate(title="Second"),
                        actor=agent,
                        expected_version=1,
                    )
                    session.commit()
                    outcome["result"] = "saved"
                except PreconditionFailed as refused:
                    outcome["result"] = refused.extra["current_version"]

        with Session(engine) as session:
            incident = session.get(Incident, incident_id)
            flows.update(
                session=session,
                incident=incident,
                data=IncidentUpdate(title="First"),
                actor=session.get(User, first_id),
                expected_version=1,
            )
            racer = threading.Thread(target=second_agent)
            racer.start()
            # Commit only once the second agent is waiting for the row lock.
            assert _wait_until(lambda: _waiting_for_lock(engine, outcome.get("pid")))
            session.commit()
        racer.join(timeout=30)

        assert outcome["result"] == 2
        with Session(engine) as check:
            stored = check.get(Incident, incident_id)
            assert (stored.title, stored.version) == ("First", 2)
    finally:
        engine.dispose()


def _waiting_for_lock(engine, pid) -> bool:
    if pid is None:
        return False
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text("select wait_event_type = 'Lock' from pg_stat_activity where pid = :pid"),
                {"pid": pid},
            ).scalar()
        )
