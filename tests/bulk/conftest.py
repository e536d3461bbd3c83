"""Fixtures for bulk updates: the incident and change factories, and the worker's bulk step run
inside the test's transaction."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational import worker
from operational.events.models import Event
from tests.changes.conftest import changes, cmdb  # noqa: F401 (fixtures)
from tests.incidents.conftest import incidents, settings_env  # noqa: F401 (fixtures)

RESOLVE = {
    "state": "resolved",
    "resolution_code": "solved_permanently",
    "resolution_notes": "Fixed by the network team's patch",
}


@pytest.fixture
def run_worker(session: Session) -> Callable[..., worker.ScanReport]:
    """The worker's bulk step, as a scan runs it, with each of its transactions a savepoint of
    the test's own (so the test still rolls everything back)."""

    def make_session() -> Session:
        return Session(
            bind=session.connection(),
            join_transaction_mode="create_savepoint",
            expire_on_commit=False,
        )

    def run(**limits: int) -> worker.ScanReport:
        report = worker.ScanReport()
        worker.run_bulk_jobs(make_session, report, **limits)
        session.expire_all()
        return report

    return run


@pytest.fixture
def events_of(session: Session) -> Callable[[str, int], list[Event]]:
    def read(entity_type: str, entity_id: int) -> list[Event]:
        return list(
            session.scalars(
                select(Event)
                .where(Event.entity_type == entity_type, Event.entity_id == entity_id)
                .order_by(Event.seq)
            )
        )

    return read


def outcomes(job: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(reference, outcome) of each result, in order."""
    return [(item["reference"], item["outcome"]) for item in job["results"]["items"]]
