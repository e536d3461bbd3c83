from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from operational.auth.dependencies import DatabaseId, require
from operational.auth.models import User
from operational.core.concurrency import ExpectedVersion, set_etag
from operational.core.db import DbSession
from operational.core.openapi import problems
from operational.core.pagination import PageQuery
from operational.customfields.dependencies import CustomFieldParams
from operational.events.schemas import EventPage, EventRead
from operational.incidents import links as incident_links
from operational.incidents.dependencies import CurrentIncident
from operational.incidents.enums import IncidentState
from operational.incidents.schemas import IncidentBrief
from operational.problems import flows, service
from operational.problems.dependencies import CurrentProblem
from operational.problems.enums import CandidateDimension
from operational.problems.models import Problem
from operational.problems.schemas import (
    BulkResolve,
    BulkResolveRead,
    CandidateGroup,
    CandidateProposal,
    IncidentLink,
    KnownErrorPublish,
    KnownErrorRead,
    LinkedIncidentPage,
    LinkedIncidentRead,
    ProblemCreate,
    ProblemFilters,
    ProblemPage,
    ProblemRead,
    ProblemSummary,
    ProblemTransition,
    ProblemTransitionRead,
    ProblemUpdate,
    SkippedIncident,
)

router = APIRouter(tags=["problems"])

DIMENSION_LABELS = {
    CandidateDimension.ci: "configuration item",
    CandidateDimension.service: "service",
    CandidateDimension.category: "category",
}


def _read(session: DbSession, problem: Problem, response: Response | None = None) -> ProblemRead:
    if response is not None:
        set_etag(response, problem.version)
    linked, still_open = incident_links.linked_counts(
        session=session, problem_ids=[problem.id]
    ).get(problem.id, (0, 0))
    return ProblemRead.model_validate(problem).model_copy(
        update={
            "linked_incidents": linked,
            "open_linked_incidents": still_open,
            "allowed_transitions": service.allowed_moves(problem),
        }
    )


def _linked(incident, problem_id: int) -> LinkedIncidentRead:
    return LinkedIncidentRead.model_validate(incident).model_copy(
        update={"waiting": incident_links.waits_for_problem(incident, problem_id)}
    )


# --------------------------------------------------------------------------------- problems


@router.get(
    "/problems",
    dependencies=[require("problem:read")],
    summary="Search, filter, sort, page",
    description="Custom fields filter as `cf.<name>=value` (repeat it: any of the values), "
    "ranges of number, decimal, date and datetime fields as `cf.<name>_from=` (at or after) "
    "and `cf.<name>_to=` (before), and sort as `sort=cf.<name>` or `-cf.<name>` "
    "(docs/custom-fields.md).",
)
def list_problems(
    session: DbSession,
    filters: Annotated[ProblemFilters, Query()],
    page: PageQuery,
    custom: CustomFieldParams,
) -> ProblemPage:
    found = service.search(session=session, filters=filters, params=page, custom=custom)
    return found.map(ProblemSummary.model_validate)


@router.post(
    "/problems",
    status_code=status.HTTP_201_CREATED,
    summary="Open a problem, linking the incidents named (a candidate group's in one call)",
    responses=problems(404),  # an incident or CI it names does not exist
)
def create_problem(
    user: Annotated[User, require("problem:write")],
    data: ProblemCreate,
    session: DbSession,
    response: Response,
) -> ProblemRead:
    problem = flows.create(session=session, data=data, actor=user)
    response.headers["Location"] = f"/api/v1/problems/{problem.id}"
    return _read(session, problem, response)


@router.get(
    "/problems/candidates",
    dependencies=[require("problem:read")],
    summary="Groups of recent unlinked incidents that may share a cause (docs/problems.md)",
)
def problem_candidates(
    session: DbSession,
    dimension: Annotated[
        list[CandidateDimension], Query(description="What the incidents share; default all")
    ] = (),
    days: Annotated[float, Query(gt=0, le=366, description="Window: opened this recently")] = 30,
    min_incidents: Annotated[int, Query(ge=2, le=1000, description="Smallest group")] = 3,
    limit: Annotated[int, Query(ge=1, le=200, description="Most groups returned")] = 20,
) -> list[CandidateGroup]:
    found = flows.candidates(
        session=session,
        dimensions=list(dimension) or list(CandidateDimension),
        days=days,
        min_incidents=min_incidents,
        limit=limit,
    )
    groups = []
    for candidate in found:
        group = candidate.group
        dimension_name = CandidateDimension(group.dimension)
        groups.append(
            CandidateGroup(
                dimension=dimension_name,
                key=group.key,
                count=group.count,
                first_opened_at=group.first_opened_at,
                last_opened_at=group.last_opened_at,
                incidents=[IncidentBrief.model_validate(item) for item in candidate.incidents],
                proposal=CandidateProposal(
                    title=f"Recurring incidents on {DIMENSION_LABELS[dimension_name]} {group.key}",
                    service=group.key if dimension_name == CandidateDimension.service else None,
                    category=group.key if dimension_name == CandidateDimension.category else None,
                    incident_ids=group.incident_ids,
                ),
            )
        )
    return groups


@router.get(
    "/problems/{problem_id}",
    dependencies=[require("problem:read")],
    summary="One problem, by id or number; the ETag is its version",
)
def get_problem(problem: CurrentProblem, session: DbSession, response: Response) -> ProblemRead:
    return _read(session, problem, response)


@router.patch(
    "/problems/{problem_id}",
    summary="Update fields and the root cause analysis (If-Match required); one event each",
)
def update_problem(
    user: Annotated[User, require("problem:write")],
    problem: CurrentProblem,
    data: ProblemUpdate,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ProblemRead:
    updated = flows.update(
        session=session,
        problem=problem,
        data=data,
        expected_version=expected_version,
        actor=user,
    )
    return _read(session, updated, response)


@router.post(
    "/problems/{problem_id}/transition",
    summary="Move through the workflow (409 names the allowed moves); resolving notifies the "
    "incidents waiting for it",
)
def transition_problem(
    user: Annotated[User, require("problem:write")],
    problem: CurrentProblem,
    data: ProblemTransition,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ProblemTransitionRead:
    moved = flows.transition(
        session=session,
        problem=problem,
        target=data.to,
        expected_version=expected_version,
        actor=user,
        reason=data.reason,
    )
    read = _read(session, moved.problem, response)
    return ProblemTransitionRead(
        **read.model_dump(), notified_incident_ids=[incident.id for incident in moved.notified]
    )


@router.put(
    "/problems/{problem_id}/known-error",
    summary="Publish the problem as a known error, with its workaround (If-Match required)",
)
def publish_known_error(
    user: Annotated[User, require("problem:write")],
    problem: CurrentProblem,
    data: KnownErrorPublish,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ProblemRead:
    published = flows.publish_known_error(
        session=session,
        problem=problem,
        expected_version=expected_version,
        actor=user,
        workaround=data.workaround,
    )
    return _read(session, published, response)


@router.delete(
    "/problems/{problem_id}/known-error",
    summary="Retract the known error (If-Match required)",
)
def retract_known_error(
    user: Annotated[User, require("problem:write")],
    problem: CurrentProblem,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ProblemRead:
    retracted = flows.retract_known_error(
        session=session, problem=problem, expected_version=expected_version, actor=user
    )
    return _read(session, retracted, response)


@router.get(
    "/problems/{problem_id}/history",
    dependencies=[require("problem:read")],
    summary="The problem's event log: every change, link and RCA update",
)
def problem_history(problem: CurrentProblem, session: DbSession, page: PageQuery) -> EventPage:
    found = service.history(session=session, problem=problem, params=page)
    return found.map(EventRead.model_validate)


# ---------------------------------------------------------------------------- linked incidents


@router.get(
    "/problems/{problem_id}/incidents",
    dependencies=[require("problem:read")],
    summary="The incidents linked to the problem (waiting: on hold awaiting it)",
)
def list_linked_incidents(
    problem: CurrentProblem,
    session: DbSession,
    page: PageQuery,
    state: Annotated[list[IncidentState], Query()] = (),
) -> LinkedIncidentPage:
    found = incident_links.linked_to(
        session=session,
        problem_id=problem.id,
        params=page,
        state=[item.value for item in state],
    )
    return found.map(lambda incident: _linked(incident, problem.id))


@router.post(
    "/problems/{problem_id}/incidents",
    status_code=status.HTTP_201_CREATED,
    summary="Link an incident (an event on both); wait: put it on hold awaiting the problem",
)
def link_incident(
    user: Annotated[User, require("problem:write")],
    problem: CurrentProblem,
    data: IncidentLink,
    session: DbSession,
) -> LinkedIncidentRead:
    incident = flows.link_incident(
        session=session, problem=problem, incident_id=data.incident_id, wait=data.wait, actor=user
    )
    return _linked(incident, problem.id)


@router.delete(
    "/problems/{problem_id}/incidents/{incident_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unlink an incident; one that waited for the problem goes back to in_progress",
)
def unlink_incident(
    user: Annotated[User, require("problem:write")],
    problem: CurrentProblem,
    incident_id: DatabaseId,
    session: DbSession,
) -> Response:
    flows.unlink_incident(session=session, problem=problem, incident_id=incident_id, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/problems/{problem_id}/incidents/resolve",
    summary="Resolve the linked incidents in one action (default: those waiting for it)",
)
def resolve_linked_incidents(
    user: Annotated[User, require("problem:write")],
    problem: CurrentProblem,
    data: BulkResolve,
    session: DbSession,
) -> BulkResolveRead:
    outcome = flows.resolve_incidents(session=session, problem=problem, data=data, actor=user)
    return BulkResolveRead(
        resolved=[IncidentBrief.model_validate(incident) for incident in outcome.resolved],
        skipped=[
            SkippedIncident(incident_id=incident_id, reason=reason)
            for incident_id, reason in outcome.skipped
        ],
    )


@router.get(
    "/incidents/{incident_id}/known-errors",
    tags=["incidents"],
    dependencies=[require("problem:read")],
    summary="The known error behind the incident, with its workaround (empty when none)",
)
def incident_known_errors(incident: CurrentIncident, session: DbSession) -> list[KnownErrorRead]:
    # Served here, by the domain above incidents, like the CMDB's CI page by changes.
    return [
        KnownErrorRead.model_validate(problem)
        for problem in flows.known_errors_for_incident(session=session, incident=incident)
    ]
