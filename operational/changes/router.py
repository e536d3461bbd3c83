from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.changes import (
    blackouts,
    cab,
    collisions,
    flows,
    messages,
    risk,
    service,
    templates,
)
from operational.changes.dependencies import CurrentBlackout, CurrentChange, CurrentTemplate
from operational.changes.enums import ChangeState, ChangeType, NoticeKind
from operational.changes.models import Change
from operational.changes.schemas import (
    ApprovalRead,
    BlackoutCreate,
    BlackoutOccurrence,
    BlackoutPage,
    BlackoutRead,
    BlackoutUpdate,
    CabRuleRead,
    CabRuleUpdate,
    CalendarRead,
    CausedIncidentLink,
    ChangeCreate,
    ChangeFilters,
    ChangePage,
    ChangeRead,
    ChangeSummary,
    ChangeUpdate,
    CIDetail,
    DecisionCreate,
    OverrideRequest,
    ReviewCreate,
    RiskQuestion,
    TemplateCreate,
    TemplatePage,
    TemplateRead,
    TemplateUpdate,
    TransitionRequest,
)
from operational.cmdb.dependencies import CurrentCI
from operational.cmdb.schemas import CIRead
from operational.core.concurrency import ExpectedVersion, set_etag
from operational.core.db import DbSession
from operational.core.openapi import problems
from operational.core.pagination import PageQuery
from operational.customfields.dependencies import CustomFieldParams
from operational.events.schemas import EventPage, EventRead
from operational.incidents import service as incidents_service

router = APIRouter(tags=["changes"])
# The CMDB's CI page, which gathers incidents and changes too (see get_ci at the end).
ci_page_router = APIRouter(tags=["cmdb"])


def _read(session: DbSession, change: Change, response: Response | None = None) -> ChangeRead:
    if response is not None:
        set_etag(response, change.version)
    return ChangeRead.build(
        change,
        allowed=service.allowed_moves(change),
        caused_incident_ids=incidents_service.caused_by_change(
            session=session, change_id=change.id
        ),
    )


# --- collection and reference data -------------------------------------------------------------


@router.get(
    "/changes",
    summary="List changes",
    description="Custom fields filter as `cf.<name>=value` (repeat it: any of the values), "
    "ranges of number, decimal, date and datetime fields as `cf.<name>_from=` (at or after) "
    "and `cf.<name>_to=` (before), and sort as `sort=cf.<name>` or `-cf.<name>` "
    "(docs/custom-fields.md).",
)
def list_changes(
    user: Annotated[User, require("change:read")],
    session: DbSession,
    page: PageQuery,
    custom: CustomFieldParams,
    filters: Annotated[ChangeFilters, Query()],
    awaiting_my_decision: Annotated[
        bool,
        Query(description="Only changes whose open CAB round waits for the caller's decision"),
    ] = False,
) -> ChangePage:
    found = service.search(
        session=session,
        params=page,
        filters=filters,
        custom=custom,
        awaiting_decision_of=user if awaiting_my_decision else None,
    )
    return found.map(ChangeSummary.model_validate)


@router.post(
    "/changes",
    status_code=status.HTTP_201_CREATED,
    summary="Raise a change",
    responses=problems(404),  # a template or CI it names does not exist
)
def create_change(
    user: Annotated[User, require("change:write")],
    data: ChangeCreate,
    session: DbSession,
    response: Response,
) -> ChangeRead:
    change = flows.create(session=session, data=data, actor=user)
    response.headers["Location"] = f"/api/v1/changes/{change.id}"
    return _read(session, change, response)


@router.get(
    "/changes/calendar",
    dependencies=[require("change:read")],
    summary="Scheduled changes and blackout windows between from and to",
    response_model_by_alias=True,
    responses=problems(400),  # to before from, or a range too long
)
def change_calendar(
    session: DbSession,
    starts_at: Annotated[AwareDatetime, Query(alias="from", description="With its offset")],
    ends_at: Annotated[AwareDatetime, Query(alias="to", description="With its offset")],
    state: Annotated[
        list[ChangeState], Query(description="Default: every state after scheduling")
    ] = (),
) -> CalendarRead:
    changes, occurrences = blackouts.calendar(
        session=session,
        starts_at=starts_at,
        ends_at=ends_at,
        states=[item.value for item in state],
    )
    return CalendarRead(
        starts_at=starts_at,
        ends_at=ends_at,
        changes=[ChangeSummary.model_validate(change) for change in changes],
        blackouts=[BlackoutOccurrence(**item) for item in occurrences],
    )


@router.get(
    "/changes/risk-questions",
    dependencies=[require("change:read")],
    summary="The risk questionnaire and the points of each risky answer",
)
def risk_questions() -> list[RiskQuestion]:
    return [
        RiskQuestion(
            key=item.key, question=item.text, risky_answer=item.risky_answer, points=item.points
        )
        for item in risk.QUESTIONS
    ]


@router.get(
    "/changes/cab-rules", dependencies=[require("change:read")], summary="CAB rules by type"
)
def list_cab_rules(session: DbSession) -> list[CabRuleRead]:
    return [CabRuleRead.model_validate(rule) for rule in cab.list_cab_rules(session=session)]


@router.put(
    "/changes/cab-rules/{change_type}",
    summary="Set how the CAB decides (all, quorum N, any) for normal or emergency changes",
)
def update_cab_rule(
    user: Annotated[User, require("change:approve")],
    change_type: ChangeType,
    data: CabRuleUpdate,
    session: DbSession,
) -> CabRuleRead:
    rule = cab.update_cab_rule(
        session=session, change_type=change_type.value, data=data, actor=user
    )
    return CabRuleRead.model_validate(rule)


# --- one change --------------------------------------------------------------------------------


@router.get("/changes/{change_id}", dependencies=[require("change:read")], summary="A change")
def get_change(change: CurrentChange, session: DbSession, response: Response) -> ChangeRead:
    return _read(session, change, response)


@router.patch("/changes/{change_id}", summary="Edit a change (If-Match: the ETag you read)")
def update_change(
    user: Annotated[User, require("change:write")],
    change: CurrentChange,
    data: ChangeUpdate,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ChangeRead:
    updated = flows.update(
        session=session,
        change=change,
        data=data,
        expected_version=expected_version,
        actor=user,
    )
    return _read(session, updated, response)


@router.post(
    "/changes/{change_id}/transition",
    summary="Move a change along its workflow (409 names the allowed moves or the conflicts)",
)
def transition_change(
    user: Annotated[User, require("change:write")],
    change: CurrentChange,
    data: TransitionRequest,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ChangeRead:
    moved = flows.transition(
        session=session,
        change=change,
        target=data.to,
        expected_version=expected_version,
        actor=user,
        reason=data.reason,
    )
    return _read(session, moved, response)


@router.post(
    "/changes/{change_id}/schedule-override",
    summary="Schedule a change over its calendar conflicts, with a reason",
)
def schedule_override(
    user: Annotated[User, require("change:override_conflict")],
    change: CurrentChange,
    data: OverrideRequest,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ChangeRead:
    scheduled = flows.schedule_over_conflicts(
        session=session,
        change=change,
        expected_version=expected_version,
        reason=data.reason,
        actor=user,
    )
    return _read(session, scheduled, response)


@router.get(
    "/changes/{change_id}/conflicts",
    dependencies=[require("change:read")],
    summary="What the planned window collides with now (blackouts, changes on related CIs)",
)
def change_conflicts(change: CurrentChange, session: DbSession) -> list[dict]:
    return collisions.find_conflicts(session=session, change=change)


@router.get(
    "/changes/{change_id}/approvals",
    dependencies=[require("change:read")],
    summary="CAB decisions on the change, every round",
)
def list_approvals(change: CurrentChange) -> list[ApprovalRead]:
    return [ApprovalRead.model_validate(approval) for approval in change.approvals]


@router.post(
    "/changes/{change_id}/approvals",
    status_code=status.HTTP_201_CREATED,
    summary="Approve or reject as a CAB member (not your own change: 403)",
)
def decide(
    user: Annotated[User, require("change:approve")],
    change: CurrentChange,
    data: DecisionCreate,
    session: DbSession,
    response: Response,
) -> ChangeRead:
    decided = flows.decide(session=session, change=change, data=data, actor=user)
    return _read(session, decided, response)


@router.post(
    "/changes/{change_id}/review",
    summary="Record the post-implementation review; closes the change by its outcome",
)
def review_change(
    user: Annotated[User, require("change:write")],
    change: CurrentChange,
    data: ReviewCreate,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ChangeRead:
    reviewed = flows.record_review(
        session=session,
        change_id=change.id,
        data=data,
        expected_version=expected_version,
        actor=user,
    )
    return _read(session, reviewed, response)


@router.post(
    "/changes/{change_id}/caused-incidents",
    summary='Link an incident as "caused by" this change',
)
def link_caused_incident(
    user: Annotated[User, require("change:write")],
    change: CurrentChange,
    data: CausedIncidentLink,
    session: DbSession,
    response: Response,
) -> ChangeRead:
    linked = flows.link_caused_incident(
        session=session, change_id=change.id, incident_id=data.incident_id, actor=user
    )
    return _read(session, linked, response)


@router.get(
    "/changes/{change_id}/history",
    dependencies=[require("change:read")],
    summary="The change's event log, CAB decisions included",
)
def change_history(change: CurrentChange, session: DbSession, page: PageQuery) -> EventPage:
    found = service.history(session=session, change_id=change.id, params=page)
    return found.map(EventRead.model_validate)


@router.get(
    "/changes/{change_id}/notice",
    dependencies=[require("change:read")],
    response_class=PlainTextResponse,
    summary="The stakeholder notice (who, what, when, impact) as text",
)
def change_notice(
    change: CurrentChange,
    session: DbSession,
    kind: NoticeKind = NoticeKind.scheduled,
    tz: Annotated[str, Query(description="IANA time zone of the readers")] = "UTC",
) -> PlainTextResponse:
    body = messages.render_notice(session=session, change=change, kind=kind, timezone=tz)
    return PlainTextResponse(body)


# --- standard change templates -----------------------------------------------------------------


@router.get(
    "/change-templates", dependencies=[require("change:read")], summary="Standard change models"
)
def list_templates(session: DbSession, page: PageQuery, active: bool | None = None) -> TemplatePage:
    found = templates.list_templates(session=session, params=page, active=active)
    return found.map(TemplateRead.model_validate)


@router.post(
    "/change-templates",
    status_code=status.HTTP_201_CREATED,
    summary="Pre-approve a standard change model (CAB members)",
)
def create_template(
    user: Annotated[User, require("change:approve")], data: TemplateCreate, session: DbSession
) -> TemplateRead:
    return TemplateRead.model_validate(
        templates.create_template(session=session, data=data, actor=user)
    )


@router.get(
    "/change-templates/{template_id}",
    dependencies=[require("change:read")],
    summary="One standard change model",
)
def get_template(template: CurrentTemplate) -> TemplateRead:
    return TemplateRead.model_validate(template)


@router.patch("/change-templates/{template_id}", summary="Revise or retire a standard change model")
def update_template(
    user: Annotated[User, require("change:approve")],
    template: CurrentTemplate,
    data: TemplateUpdate,
    session: DbSession,
) -> TemplateRead:
    updated = templates.update_template(session=session, template=template, data=data, actor=user)
    return TemplateRead.model_validate(updated)


# --- blackout windows --------------------------------------------------------------------------


@router.get("/blackout-windows", dependencies=[require("change:read")], summary="Blackout windows")
def list_blackouts(session: DbSession, page: PageQuery, active: bool | None = None) -> BlackoutPage:
    found = blackouts.list_blackouts(session=session, params=page, active=active)
    return found.map(BlackoutRead.model_validate)


@router.post(
    "/blackout-windows",
    status_code=status.HTTP_201_CREATED,
    summary="Add a blackout window, possibly recurring (RRULE)",
)
def create_blackout(
    user: Annotated[User, require("blackout:admin")], data: BlackoutCreate, session: DbSession
) -> BlackoutRead:
    return BlackoutRead.model_validate(
        blackouts.create_blackout(session=session, data=data, actor=user)
    )


@router.get(
    "/blackout-windows/{window_id}",
    dependencies=[require("change:read")],
    summary="One blackout window",
)
def get_blackout(window: CurrentBlackout) -> BlackoutRead:
    return BlackoutRead.model_validate(window)


@router.patch("/blackout-windows/{window_id}", summary="Change a blackout window")
def update_blackout(
    user: Annotated[User, require("blackout:admin")],
    window: CurrentBlackout,
    data: BlackoutUpdate,
    session: DbSession,
) -> BlackoutRead:
    return BlackoutRead.model_validate(
        blackouts.update_blackout(session=session, window=window, data=data, actor=user)
    )


@router.delete(
    "/blackout-windows/{window_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a blackout window",
)
def delete_blackout(
    user: Annotated[User, require("blackout:admin")], window: CurrentBlackout, session: DbSession
) -> Response:
    blackouts.delete_blackout(session=session, window=window, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- a CI with what is happening to it --------------------------------------------------------


@ci_page_router.get(
    "/cis/{ci_id}",
    dependencies=[require("ci:read")],
    summary="A CI with its open incidents and upcoming changes",
)
def get_ci(ci: CurrentCI, session: DbSession, response: Response) -> CIDetail:
    # Served here, by the highest domain it gathers from, so that the CMDB stays below the
    # incidents and changes that refer to its CIs.
    set_etag(response, ci.version)
    return CIDetail.model_validate(
        {
            **CIRead.model_validate(ci).model_dump(),
            "open_incidents": incidents_service.open_on_ci(session=session, ci_id=ci.id),
            "upcoming_changes": service.upcoming_for_ci(session=session, ci_id=ci.id),
        }
    )
