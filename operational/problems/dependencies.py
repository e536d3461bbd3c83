"""Lookups that 404. The If-Match precondition is in operational.core.concurrency."""

from typing import Annotated

from fastapi import Depends, Path

from operational.core.db import DbSession
from operational.problems import service
from operational.problems.models import Problem


def _current_problem(
    session: DbSession,
    problem_id: Annotated[str, Path(max_length=32, description="Id or number (PRB0000042)")],
) -> Problem:
    return service.get_by_reference(session=session, reference=problem_id)


CurrentProblem = Annotated[Problem, Depends(_current_problem)]
