from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.core import surveys
from operational.core.access import public
from operational.core.concurrency import IfMatchVersion, etag, set_etag
from operational.core.config import get_settings
from operational.core.db import DbSession
from operational.core.errors import Forbidden, NotFound
from operational.core.openapi import problems
from operational.core.pagination import KeysetPageQuery
from operational.customfields import service as custom_fields
from operational.customfields.dependencies import CustomFieldParams
from operational.customfields.enums import RecordType
from operational.events.schemas import EventRead
from operational.incidents import csat, flows, history, priority, reads, service
from operational.incidents.dependencies import CurrentIncident, expected_version
from operational.incidents.models import CsatSurvey, Incident
from operational.incidents.schemas import (
    LIST_FIELDS_DESCRIPTION,
    CommentCreate,
    CommentRead,
    CsatAnswer,
    CsatInvitationRead,
    CsatSurveyRead,
    IncidentAsOfRead,
    IncidentCreate,
    IncidentFilters,
    IncidentListPage,
    IncidentRead,
    IncidentUpdate,
    PriorityMatrixRead,
    ReopenRequest,
)
from operational.sla import timers as sla_timers
from operational.sla.schemas import SlaTimerRead
from operational.tickets import hints

router = APIRouter()

OVERRIDE_PRIORITY = "incident:override_priority"


def _read(
    incident: Incident, timers: list, invitation: csat.SurveyInvitation | None = None
) -> IncidentRead:
    read = IncidentRead.model_validate(incident)
    read.sla_timers = [SlaTimerRead.model_validate(timer) for timer in timers]
    if invitation is not None:
        read.csat_invitation = CsatInvitationRead(
            token=invitation.token,
            url=f"{get_settings().api_base_url}/api/v1/csat/{invitation.token}",
            expires_at=invitation.survey.expires_at,
        )
    return read


_INCIDENT = TypeAdapter(IncidentRead)


def _read_json(
    session: Session, incident_id: int, viewer: User, only: reads.Fields | None = None
) -> bytes:
    """One incident's response through the models, as ``viewer`` may see it: for a row whose
    JSON PostgreSQL does not write (reads.py: custom field values, rare floats); ``only``: a
    list's ``fields=``."""
    incident = service.get_by_reference(session=session, reference=str(incident_id))
    timed = only is None or "sla_timers" in only.names
    read = _read(
        incident, sla_timers.timers_for(session=session, incident_id=incident_id) if timed else []
    )
    _as_seen_by([read], viewer, session)
    return _INCIDENT.dump_json(
        read, by_alias=True, include=None if only is None else only.include()
    )


def _json(body: bytes, headers: dict[str, str] | None = None) -> Response:
    """JSON that is already written (the response model's, byte for byte)."""
    return Response(content=body, media_type="application/json", headers=headers)


def _outcome_read(outcome: flows.IncidentOutcome) -> IncidentRead:
    return _read(outcome.incident, outcome.timers, outcome.survey_invitation)


def _as_seen_by(reads: list[IncidentRead], viewer: User, session: DbSession) -> None:
    """Leave a requester only the custom fields requesters may see."""
    if service.can_read_all(viewer) or not any(read.custom_fields for read in reads):
        return
    shown = custom_fields.visible(
        session=session, record_type=RecordType.incident, requester_only=True
    )
    for read in reads:
        read.custom_fields = shown(read.custom_fields)


def _survey_read(survey: CsatSurvey, now: datetime, viewer: User | None = None) -> CsatSurveyRead:
    is_open = surveys.is_open(survey, now)
    answerable = is_open and viewer is not None and viewer.id == survey.incident.requester_id
    return CsatSurveyRead(
        incident_number=survey.incident.number,
        incident_title=survey.incident.title,
        opened_at=survey.opened_at,
        expires_at=survey.expires_at,
        answered_at=survey.answered_at,
        rating=survey.rating,
        comment=survey.comment,
        is_open=is_open,
        answered_via=survey.answered_via,
        answered_by_id=survey.answered_by_id,
        answer_url=f"/api/v1/incidents/{survey.incident_id}/csat" if answerable else None,
    )


# ---------------------------------------------------------------------------------- incidents


@router.get(
    "/incidents/priority-matrix",
    tags=["incidents"],
    summary="The impact x urgency matrix in force",
    dependencies=[require("incident:read")],
)
def priority_matrix() -> PriorityMatrixRead:
    return PriorityMatrixRead(matrix=priority.matrix())


@router.post(
    "/incidents",
    tags=["incidents"],
    status_code=status.HTTP_201_CREATED,
    summary="Raise an incident (routed by the assignment rules when no team is given)",
)
def create_incident(
    user: Annotated[User, require("incident:create")],
    data: IncidentCreate,
    session: DbSession,
    response: Response,
) -> IncidentRead:
    if data.priority is not None and not has_permission(user, OVERRIDE_PRIORITY):
        raise Forbidden(
            f"Overriding the priority needs the {OVERRIDE_PRIORITY!r} permission",
            permission=OVERRIDE_PRIORITY,
        )
    outcome = flows.create(session=session, data=data, actor=user)
    response.headers["Location"] = f"/api/v1/incidents/{outcome.incident.id}"
    set_etag(response, outcome.incident.version)
    read = _outcome_read(outcome)
    read.suggestions = hints.suggest(
        session=session, viewer=user, text=hints.ticket_text(data.title, data.description)
    )
    _as_seen_by([read], user, session)
    return read


@router.get(
    "/incidents",
    tags=["incidents"],
    summary="Search, filter, sort and page incidents",
    description="Custom fields filter as `cf.<name>=value` (repeat it: any of the values), "
    "ranges of number, decimal, date and datetime fields as `cf.<name>_from=` (at or after) "
    "and `cf.<name>_to=` (before), and sort as `sort=cf.<name>` or `-cf.<name>` "
    "(docs/custom-fields.md). `fields=` returns only the fields named in each item.",
    response_model=IncidentListPage,
)
def list_incidents(
    user: Annotated[User, require("incident:read")],
    session: DbSession,
    filters: Annotated[IncidentFilters, Query()],
    page: KeysetPageQuery,
    custom: CustomFieldParams,
    fields: Annotated[
        str | None,
        Query(
            max_length=2000,
            description=LIST_FIELDS_DESCRIPTION,
            examples=["number,title,state,priority"],
        ),
    ] = None,
) -> Response:
    only = None if fields is None else reads.fields(session=session, viewer=user, text=fields)
    found, items = reads.page(
        session=session, viewer=user, filters=filters, params=page, custom=custom, only=only
    )
    reads_all = service.can_read_all(user)
    return _json(
        reads.page_body(
            found,
            (
                reads.shown(item, reads_all=reads_all, only=only)
                or _read_json(session, item.id, user, only)
                for item in items
            ),
        )
    )


@router.get(
    "/incidents/{incident_id}",
    tags=["incidents"],
    summary="One incident, by id or number; the ETag is its version",
    response_model=IncidentRead,
)
def get_incident(
    user: Annotated[User, require("incident:read")], incident_id: str, session: DbSession
) -> Response:
    found = reads.by_reference(session=session, reference=incident_id)
    if not service.is_visible_to(found, user):
        raise NotFound(f"Incident {incident_id} does not exist")
    body = reads.shown(found, reads_all=service.can_read_all(user)) or _read_json(
        session, found.id, user
    )
    hint = hints.workaround(session=session, viewer=user, problem_id=found.problem_id)
    return _json(reads.with_known_error(body, hint), headers={"ETag": etag(found.version)})


@router.patch(
    "/incidents/{incident_id}",
    tags=["incidents"],
    summary="Update fields, assign, or move through the workflow (If-Match required)",
)
def update_incident(
    user: Annotated[User, require("incident:write")],
    incident: CurrentIncident,
    data: IncidentUpdate,
    session: DbSession,
    response: Response,
    if_match: IfMatchVersion,
) -> IncidentRead:
    if "priority" in data.model_fields_set and not has_permission(user, OVERRIDE_PRIORITY):
        raise Forbidden(
            f"Overriding the priority needs the {OVERRIDE_PRIORITY!r} permission",
            permission=OVERRIDE_PRIORITY,
        )
    outcome = flows.update(
        session=session,
        incident=incident,
        data=data,
        actor=user,
        expected_version=expected_version(if_match, data.version),
    )
    set_etag(response, outcome.incident.version)
    read = _outcome_read(outcome)
    if "title" in data.model_fields_set:
        read.suggestions = hints.suggest(
            session=session,
            viewer=user,
            text=hints.ticket_text(outcome.incident.title, outcome.incident.description),
        )
    return read


@router.post(
    "/incidents/{incident_id}/reopen",
    tags=["incidents"],
    summary="Reopen a resolved incident (requesters: within the reopen window)",
)
def reopen_incident(
    user: Annotated[User, require("incident:comment")],
    incident: CurrentIncident,
    data: ReopenRequest,
    session: DbSession,
    response: Response,
) -> IncidentRead:
    outcome = flows.reopen(session=session, incident=incident, actor=user, reason=data.reason)
    set_etag(response, outcome.incident.version)
    read = _outcome_read(outcome)
    _as_seen_by([read], user, session)
    return read


@router.post(
    "/incidents/{incident_id}/auto-assign",
    tags=["incidents"],
    summary="Run the assignment (route) rules against the incident as it is now",
)
def auto_assign_incident(
    user: Annotated[User, require("incident:write")],
    incident: CurrentIncident,
    session: DbSession,
    response: Response,
) -> IncidentRead:
    outcome = flows.auto_assign(session=session, incident=incident, actor=user)
    if outcome.assignment_rule is None:
        raise NotFound("No active assignment rule matches this incident")
    set_etag(response, outcome.incident.version)
    return _outcome_read(outcome)


@router.get(
    "/incidents/{incident_id}/timeline",
    tags=["incidents"],
    summary="The incident's full event log, in order",
    dependencies=[require("incident:read_all")],
)
def incident_timeline(incident: CurrentIncident, session: DbSession) -> list[EventRead]:
    return [
        EventRead.model_validate(event)
        for event in service.timeline(session=session, incident=incident)
    ]


@router.get(
    "/incidents/{incident_id}/as-of",
    tags=["incidents"],
    summary="The incident as it was at an instant: state, priority, team, assignee, SLA timers",
    description="A replay of the incident's event log up to `at`, with the SLA policies and "
    "calendars in force then. `at` without a zone is UTC; an instant before the incident was "
    "opened, or in the future, is 422.",
    dependencies=[require("incident:read")],
)
def incident_as_of(
    incident: CurrentIncident,
    session: DbSession,
    at: Annotated[datetime, Query(description="The instant, ISO 8601 (e.g. 2026-03-02T10:00Z)")],
) -> IncidentAsOfRead:
    return IncidentAsOfRead.of(history.as_of(session=session, incident=incident, at=at))


# ----------------------------------------------------------------------------------- comments


@router.get(
    "/incidents/{incident_id}/comments",
    tags=["incidents"],
    summary="Comments; work notes only for those who see every incident",
)
def list_comments(
    user: Annotated[User, require("incident:read")],
    incident: CurrentIncident,
    session: DbSession,
) -> list[CommentRead]:
    comments = service.list_comments(
        session=session, incident=incident, include_work_notes=service.can_read_all(user)
    )
    return [CommentRead.model_validate(comment) for comment in comments]


@router.post(
    "/incidents/{incident_id}/comments",
    tags=["incidents"],
    status_code=status.HTTP_201_CREATED,
    summary="Add a public comment or (agents) a work note",
)
def add_comment(
    user: Annotated[User, require("incident:comment")],
    incident: CurrentIncident,
    data: CommentCreate,
    session: DbSession,
) -> CommentRead:
    comment = flows.add_comment(
        session=session, incident=incident, actor=user, body=data.body, is_public=data.is_public
    )
    return CommentRead.model_validate(comment)


# --------------------------------------------------------------------------------------- CSAT


@router.get(
    "/incidents/{incident_id}/csat",
    tags=["csat"],
    summary="The incident's latest satisfaction survey; for its requester, how to answer it",
)
def incident_survey(
    user: Annotated[User, require("incident:read")], incident: CurrentIncident, session: DbSession
) -> CsatSurveyRead:
    survey = csat.latest_for(session=session, incident_id=incident.id)
    if survey is None:
        raise NotFound(f"{incident.number} has no satisfaction survey")
    return _survey_read(survey, datetime.now(UTC), viewer=user)


@router.post(
    "/incidents/{incident_id}/csat",
    tags=["csat"],
    summary="The requester answers the open survey, signed in: 1-5 stars and a comment, once",
    responses=problems(410),
)
def answer_incident_survey(
    user: Annotated[User, require("incident:comment")],
    incident: CurrentIncident,
    data: CsatAnswer,
    session: DbSession,
) -> CsatSurveyRead:
    now = datetime.now(UTC)
    survey = csat.answer_as_requester(
        session=session,
        incident=incident,
        requester=user,
        rating=data.rating,
        comment=data.comment,
        now=now,
    )
    return _survey_read(survey, now, viewer=user)


@router.get(
    "/csat/{token}",
    tags=["csat"],
    summary="A survey, by its one-time token",
    dependencies=[public],
)
def survey_by_token(token: str, session: DbSession) -> CsatSurveyRead:
    return _survey_read(csat.by_token(session=session, token=token), datetime.now(UTC))


@router.post(
    "/csat/{token}",
    tags=["csat"],
    summary="Answer a survey through its one-time link: 1-5 stars and a comment, once",
    dependencies=[public],
    responses=problems(410),
)
def answer_survey(token: str, data: CsatAnswer, session: DbSession) -> CsatSurveyRead:
    now = datetime.now(UTC)
    survey = csat.answer(
        session=session, token=token, rating=data.rating, comment=data.comment, now=now
    )
    return _survey_read(survey, now)
