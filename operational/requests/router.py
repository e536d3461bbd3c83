"""The service catalog (``/catalog``), requests (``/requests``, ``/request-items``), fulfilment
tasks (``/request-tasks``), approvals (``/approvals``, ``/approval-delegations``) and request
surveys (``/request-surveys``)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.core import surveys
from operational.core.access import public
from operational.core.concurrency import ExpectedVersion, IfMatchVersion, set_etag
from operational.core.config import get_settings
from operational.core.db import DbSession
from operational.core.errors import Forbidden, NotFound
from operational.core.pagination import PageQuery
from operational.customfields import service as custom_fields
from operational.customfields.dependencies import CustomFieldParams
from operational.customfields.enums import RecordType
from operational.events.enums import EntityType
from operational.events.schemas import EventRead
from operational.incidents.dependencies import expected_version
from operational.requests import approvals, catalog, csat, flows, fulfilment, service
from operational.requests.dependencies import (
    CurrentApproval,
    CurrentCatalogItem,
    CurrentRequest,
    CurrentRequestItem,
    CurrentTask,
)
from operational.requests.enums import MessageKind
from operational.requests.models import RequestItem, RequestSurvey
from operational.requests.schemas import (
    ApprovalFilters,
    ApprovalPage,
    ApprovalRead,
    CancelBody,
    CatalogItemCreate,
    CatalogItemFilters,
    CatalogItemPage,
    CatalogItemRead,
    CatalogItemUpdate,
    CatalogItemVersionPage,
    CatalogItemVersionRead,
    CategoryCreate,
    CategoryPage,
    CategoryRead,
    CategoryUpdate,
    CsatAnswer,
    CsatInvitationRead,
    Decision,
    DelegationCreate,
    DelegationPage,
    DelegationRead,
    DeliveryClockRead,
    RejectDecision,
    RequestCreate,
    RequesterReply,
    RequestFilters,
    RequestItemFilters,
    RequestItemMessage,
    RequestItemPage,
    RequestItemRead,
    RequestItemUpdate,
    RequestPage,
    RequestRead,
    RequestSurveyRead,
    RequestUpdate,
    StageRead,
    TaskFilters,
    TaskPage,
    TaskRead,
    TaskUpdate,
)
from operational.tickets import hints

router = APIRouter()
catalog_router = APIRouter(prefix="/catalog", tags=["catalog"])


# ----------------------------------------------------------------------------------- shaping


def _clock(item: RequestItem) -> DeliveryClockRead:
    return DeliveryClockRead(
        state=item.sla_state,
        target_minutes=item.sla_target_minutes,
        calendar_id=item.sla_calendar_id,
        due_at=item.sla_due_at,
        elapsed_minutes=item.sla_elapsed_minutes,
        paused_minutes=item.sla_paused_minutes,
        breached_at=item.sla_breached_at,
        computed_at=item.sla_computed_at,
    )


def _item_read(item: RequestItem, session: DbSession | None = None) -> RequestItemRead:
    """An item with its clock; with ``session``, its approval stages too (detail views)."""
    read = RequestItemRead.model_validate(item)
    read.sla = _clock(item)
    if session is not None:
        read.approval_stages = [
            StageRead.model_validate(stage)
            for stage in approvals.stages_of(session=session, item_id=item.id)
        ]
    return read


def _invitation(invitation: csat.SurveyInvitation | None) -> CsatInvitationRead | None:
    if invitation is None:
        return None
    return CsatInvitationRead(
        token=invitation.token,
        url=f"{get_settings().api_base_url}/api/v1/request-surveys/{invitation.token}",
        expires_at=invitation.survey.expires_at,
    )


def _request_read(
    request, session: DbSession | None = None, invitation: csat.SurveyInvitation | None = None
) -> RequestRead:
    read = RequestRead.model_validate(request)
    read.items = [_item_read(item, session) for item in request.items]
    read.csat_invitation = _invitation(invitation)
    return read


def _as_seen_by(reads: list[RequestRead], viewer: User, session: DbSession) -> None:
    """Leave a requester only the custom fields requesters may see."""
    if service.can_read_all(viewer) or not any(read.custom_fields for read in reads):
        return
    shown = custom_fields.visible(
        session=session, record_type=RecordType.request, requester_only=True
    )
    for read in reads:
        read.custom_fields = shown(read.custom_fields)


def _survey_read(survey: RequestSurvey, now: datetime) -> RequestSurveyRead:
    return RequestSurveyRead(
        request_number=survey.request.number,
        opened_at=survey.opened_at,
        expires_at=survey.expires_at,
        answered_at=survey.answered_at,
        rating=survey.rating,
        comment=survey.comment,
        is_open=surveys.is_open(survey, now),
    )


# ----------------------------------------------------------------------------------- catalog


@catalog_router.get(
    "/categories", summary="Catalog categories", dependencies=[require("catalog:read")]
)
def list_categories(
    session: DbSession, page: PageQuery, active: bool | None = None
) -> CategoryPage:
    return catalog.list_categories(session=session, params=page, active=active).map(
        CategoryRead.model_validate
    )


@catalog_router.post(
    "/categories",
    status_code=status.HTTP_201_CREATED,
    summary="Add a category",
    dependencies=[require("catalog:admin")],
)
def create_category(data: CategoryCreate, session: DbSession) -> CategoryRead:
    return CategoryRead.model_validate(catalog.create_category(session=session, data=data))


@catalog_router.patch(
    "/categories/{category_id}",
    summary="Rename, reorder or retire a category",
    dependencies=[require("catalog:admin")],
)
def update_category(category_id: int, data: CategoryUpdate, session: DbSession) -> CategoryRead:
    category = catalog.get_category(session=session, category_id=category_id)
    return CategoryRead.model_validate(
        catalog.update_category(session=session, category=category, data=data)
    )


@catalog_router.get("/items", summary="Search the catalog")
def list_catalog_items(
    user: Annotated[User, require("catalog:read")],
    session: DbSession,
    page: PageQuery,
    filters: Annotated[CatalogItemFilters, Query()],
) -> CatalogItemPage:
    found = catalog.list_items(session=session, params=page, filters=filters, viewer=user)
    return found.map(CatalogItemRead.model_validate)


@catalog_router.post(
    "/items",
    status_code=status.HTTP_201_CREATED,
    summary="Add an item: form (JSON Schema), approval policy, fulfilment plan",
)
def create_catalog_item(
    user: Annotated[User, require("catalog:admin")],
    data: CatalogItemCreate,
    session: DbSession,
    response: Response,
) -> CatalogItemRead:
    item = catalog.create_item(session=session, data=data, actor=user)
    response.headers["Location"] = f"/api/v1/catalog/items/{item.id}"
    set_etag(response, item.version)
    return CatalogItemRead.model_validate(item)


@catalog_router.get(
    "/items/{item_id}",
    summary="One item as it stands; the ETag is its version",
    dependencies=[require("catalog:read")],
)
def get_catalog_item(item: CurrentCatalogItem, response: Response) -> CatalogItemRead:
    set_etag(response, item.version)
    return CatalogItemRead.model_validate(item)


@catalog_router.patch(
    "/items/{item_id}", summary="Change an item: a new version (If-Match required)"
)
def update_catalog_item(
    user: Annotated[User, require("catalog:admin")],
    item: CurrentCatalogItem,
    data: CatalogItemUpdate,
    session: DbSession,
    response: Response,
    version: ExpectedVersion,
) -> CatalogItemRead:
    item = catalog.update_item(
        session=session, item=item, data=data, actor=user, expected_version=version
    )
    set_etag(response, item.version)
    return CatalogItemRead.model_validate(item)


@catalog_router.post(
    "/items/{item_id}/retire",
    summary="Retire an item: no new orders, its history kept (If-Match required)",
)
def retire_catalog_item(
    user: Annotated[User, require("catalog:admin")],
    item: CurrentCatalogItem,
    session: DbSession,
    response: Response,
    version: ExpectedVersion,
) -> CatalogItemRead:
    item = catalog.retire_item(session=session, item=item, actor=user, expected_version=version)
    set_etag(response, item.version)
    return CatalogItemRead.model_validate(item)


@catalog_router.get(
    "/items/{item_id}/versions",
    summary="Every version of an item, newest first",
    dependencies=[require("catalog:read")],
)
def list_catalog_item_versions(
    item: CurrentCatalogItem, session: DbSession, page: PageQuery
) -> CatalogItemVersionPage:
    return catalog.list_versions(session=session, item_id=item.id, params=page).map(
        CatalogItemVersionRead.model_validate
    )


@catalog_router.get(
    "/items/{item_id}/versions/{version}",
    summary="An item as it was at one version",
    dependencies=[require("catalog:read")],
)
def get_catalog_item_version(
    item: CurrentCatalogItem, version: int, session: DbSession
) -> CatalogItemVersionRead:
    return CatalogItemVersionRead.model_validate(
        catalog.get_version(session=session, item_id=item.id, version=version)
    )


@catalog_router.post(
    "/items/{item_id}/validate",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Check answers against the item's form without ordering (422 names each wrong field)",
    dependencies=[require("catalog:read")],
)
def validate_answers(item: CurrentCatalogItem, answers: dict, session: DbSession) -> Response:
    catalog.validate_answers(session=session, schema=item.form_schema, answers=answers)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------- requests


@router.post(
    "/requests",
    tags=["requests"],
    status_code=status.HTTP_201_CREATED,
    summary="Order one or more catalog items (one request item per line)",
)
def create_request(
    user: Annotated[User, require("request:create")],
    data: RequestCreate,
    session: DbSession,
    response: Response,
) -> RequestRead:
    outcome = flows.order(session=session, data=data, actor=user)
    response.headers["Location"] = f"/api/v1/requests/{outcome.request.id}"
    set_etag(response, outcome.request.version)
    read = _request_read(outcome.request, session)
    _as_seen_by([read], user, session)
    ordered = " ".join(item.item_name for item in read.items)
    read.suggestions = hints.suggest(
        session=session, viewer=user, text=hints.ticket_text(ordered, data.justification)
    )
    return read


@router.get(
    "/requests",
    tags=["requests"],
    summary="Search, filter, sort and page requests",
    description="Custom fields filter as `cf.<name>=value` (repeat it: any of the values), "
    "ranges of number, decimal, date and datetime fields as `cf.<name>_from=` (at or after) "
    "and `cf.<name>_to=` (before), and sort as `sort=cf.<name>` or `-cf.<name>` "
    "(docs/custom-fields.md).",
)
def list_requests(
    user: Annotated[User, require("request:read")],
    session: DbSession,
    filters: Annotated[RequestFilters, Query()],
    page: PageQuery,
    custom: CustomFieldParams,
) -> RequestPage:
    found = service.search_requests(
        session=session, viewer=user, filters=filters, params=page, custom=custom
    )
    listed = found.map(_request_read)
    _as_seen_by(listed.items, user, session)
    return listed


@router.get(
    "/requests/{request_id}",
    tags=["requests"],
    summary="One request with its items, by id or number; the ETag is its version",
)
def get_request(
    user: Annotated[User, require("request:read")],
    request: CurrentRequest,
    session: DbSession,
    response: Response,
) -> RequestRead:
    set_etag(response, request.version)
    read = _request_read(request, session)
    _as_seen_by([read], user, session)
    return read


@router.patch(
    "/requests/{request_id}",
    tags=["requests"],
    summary="Set the request's custom fields (If-Match: its version); requesters set only "
    "those requesters may set",
)
def update_request(
    user: Annotated[User, require("request:read")],
    request: CurrentRequest,
    data: RequestUpdate,
    session: DbSession,
    response: Response,
    version: ExpectedVersion,
) -> RequestRead:
    updated = flows.update(
        session=session, request=request, data=data, expected_version=version, actor=user
    )
    set_etag(response, updated.version)
    read = _request_read(updated, session)
    _as_seen_by([read], user, session)
    return read


@router.post(
    "/requests/{request_id}/cancel",
    tags=["requests"],
    summary="Withdraw a request: its unfinished items are cancelled (If-Match or version)",
)
def cancel_request(
    user: Annotated[User, require("request:create")],
    request: CurrentRequest,
    data: CancelBody,
    session: DbSession,
    response: Response,
    if_match: IfMatchVersion,
) -> RequestRead:
    if request.requester_id != user.id and not service.can_fulfil(user):
        raise Forbidden("Only the requester or a fulfiller may cancel a request")
    outcome = flows.cancel_request(
        session=session,
        request=request,
        actor=user,
        reason=data.reason,
        expected_version=expected_version(if_match, data.version),
    )
    set_etag(response, outcome.request.version)
    read = _request_read(outcome.request, session, outcome.survey_invitation)
    _as_seen_by([read], user, session)
    return read


@router.get(
    "/requests/{request_id}/timeline",
    tags=["requests"],
    summary="The request's own event log, in order",
    dependencies=[require("request:read_all")],
)
def request_timeline(request: CurrentRequest, session: DbSession) -> list[EventRead]:
    found = service.timeline(session=session, entity_type=EntityType.request, entity_id=request.id)
    return [EventRead.model_validate(event) for event in found]


@router.get(
    "/requests/{request_id}/csat",
    tags=["csat"],
    summary="The request's satisfaction survey",
    dependencies=[require("request:read")],
)
def request_survey(request: CurrentRequest, session: DbSession) -> RequestSurveyRead:
    survey = csat.latest_for(session=session, request_id=request.id)
    if survey is None:
        raise NotFound(f"{request.number} has no satisfaction survey")
    return _survey_read(survey, datetime.now(UTC))


@router.get(
    "/request-surveys/{token}",
    tags=["csat"],
    summary="A request survey, by its one-time token",
    dependencies=[public],
)
def request_survey_by_token(token: str, session: DbSession) -> RequestSurveyRead:
    return _survey_read(csat.by_token(session=session, token=token), datetime.now(UTC))


@router.post(
    "/request-surveys/{token}",
    tags=["csat"],
    summary="Answer a request survey: 1-5 stars and a comment, once",
    dependencies=[public],
)
def answer_request_survey(token: str, data: CsatAnswer, session: DbSession) -> RequestSurveyRead:
    now = datetime.now(UTC)
    survey = csat.answer(
        session=session, token=token, rating=data.rating, comment=data.comment, now=now
    )
    return _survey_read(survey, now)


# ----------------------------------------------------------------------------- request items


@router.get(
    "/request-items", tags=["requests"], summary="Search, filter, sort and page request items"
)
def list_request_items(
    user: Annotated[User, require("request:read")],
    session: DbSession,
    filters: Annotated[RequestItemFilters, Query()],
    page: PageQuery,
) -> RequestItemPage:
    found = service.search_items(session=session, viewer=user, filters=filters, params=page)
    return found.map(_item_read)


@router.get(
    "/request-items/{item_id}",
    tags=["requests"],
    summary="One request item with its approval stages and delivery clock; ETag: its version",
    dependencies=[require("request:read")],
)
def get_request_item(
    item: CurrentRequestItem, session: DbSession, response: Response
) -> RequestItemRead:
    set_etag(response, item.version)
    return _item_read(item, session)


@router.patch(
    "/request-items/{item_id}",
    tags=["requests"],
    summary="Wait for the requester, resume, or cancel (If-Match or version)",
)
def update_request_item(
    user: Annotated[User, require("request:fulfil")],
    item: CurrentRequestItem,
    data: RequestItemUpdate,
    session: DbSession,
    response: Response,
    if_match: IfMatchVersion,
) -> RequestItemRead:
    item, invitation = flows.update_item(
        session=session,
        item=item,
        data=data,
        actor=user,
        expected_version=expected_version(if_match, data.version),
    )
    set_etag(response, item.version)
    read = _item_read(item, session)
    read.csat_invitation = _invitation(invitation)
    return read


@router.post(
    "/request-items/{item_id}/reply",
    tags=["requests"],
    summary="The requester answers an item waiting for them (its clock runs again)",
)
def reply_to_request_item(
    user: Annotated[User, require("request:create")],
    item: CurrentRequestItem,
    data: RequesterReply,
    session: DbSession,
    response: Response,
) -> RequestItemRead:
    item = flows.reply(session=session, item=item, actor=user, comment=data.comment)
    set_etag(response, item.version)
    return _item_read(item, session)


@router.get(
    "/request-items/{item_id}/messages",
    tags=["requests"],
    summary="The item's conversation with its requester (questions, replies, cancellation), in "
    "order; its requester may read it",
    dependencies=[require("request:read")],
)
def request_item_messages(item: CurrentRequestItem, session: DbSession) -> list[RequestItemMessage]:
    return [
        RequestItemMessage(
            occurred_at=event.occurred_at,
            kind=kind,
            author_id=event.actor_id,
            author_label=event.actor_label,
            text=event.new_value if kind == MessageKind.reply else event.data["reason"],
        )
        for kind, event in service.requester_messages(session=session, item=item)
    ]


@router.get(
    "/request-items/{item_id}/timeline",
    tags=["requests"],
    summary="The item's event log (approvals, decisions, moves), in order",
    dependencies=[require("request:read_all")],
)
def request_item_timeline(item: CurrentRequestItem, session: DbSession) -> list[EventRead]:
    found = service.timeline(
        session=session, entity_type=EntityType.request_item, entity_id=item.id
    )
    return [EventRead.model_validate(event) for event in found]


# ------------------------------------------------------------------------------------- tasks


@router.get(
    "/request-tasks",
    tags=["request tasks"],
    summary="Search, filter, sort and page fulfilment tasks",
    dependencies=[require("request:fulfil")],
)
def list_request_tasks(
    session: DbSession, filters: Annotated[TaskFilters, Query()], page: PageQuery
) -> TaskPage:
    return fulfilment.search(session=session, filters=filters, params=page).map(
        TaskRead.model_validate
    )


@router.get(
    "/request-tasks/{task_id}",
    tags=["request tasks"],
    summary="One task, by id or number; the ETag is its version",
    dependencies=[require("request:fulfil")],
)
def get_request_task(task: CurrentTask, response: Response) -> TaskRead:
    set_etag(response, task.version)
    return TaskRead.model_validate(task)


@router.patch(
    "/request-tasks/{task_id}",
    tags=["request tasks"],
    summary="Assign, work or close a task (If-Match or version); the last closed delivers",
)
def update_request_task(
    user: Annotated[User, require("request:fulfil")],
    task: CurrentTask,
    data: TaskUpdate,
    session: DbSession,
    response: Response,
    if_match: IfMatchVersion,
) -> TaskRead:
    task, invitation = flows.update_task(
        session=session,
        task=task,
        data=data,
        actor=user,
        expected_version=expected_version(if_match, data.version),
    )
    set_etag(response, task.version)
    read = TaskRead.model_validate(task)
    read.csat_invitation = _invitation(invitation)
    return read


# --------------------------------------------------------------------------------- approvals


@router.get("/approvals", tags=["approvals"], summary="Approvals; mine=pending: what waits for me")
def list_approvals(
    user: Annotated[User, require("approval:decide")],
    session: DbSession,
    filters: Annotated[ApprovalFilters, Query()],
    page: PageQuery,
) -> ApprovalPage:
    found = approvals.search(
        session=session,
        viewer=user,
        filters=filters,
        params=page,
        read_all=service.can_read_all(user),
        search_items=lambda text: service.item_ids_matching(session=session, text=text),
    )
    return found.map(ApprovalRead.model_validate)


@router.get(
    "/approvals/{approval_id}",
    tags=["approvals"],
    summary="One approval",
    dependencies=[require("approval:decide")],
)
def get_approval(approval: CurrentApproval) -> ApprovalRead:
    return ApprovalRead.model_validate(approval)


def _decided(
    session: DbSession, approval, user: User, *, approve: bool, comment: str | None
) -> ApprovalRead:
    decided, invitation = flows.decide(
        session=session, approval=approval, actor=user, approve=approve, comment=comment
    )
    read = ApprovalRead.model_validate(decided)
    read.csat_invitation = _invitation(invitation)
    return read


@router.post("/approvals/{approval_id}/approve", tags=["approvals"], summary="Approve")
def approve(
    user: Annotated[User, require("approval:decide")],
    approval: CurrentApproval,
    data: Decision,
    session: DbSession,
) -> ApprovalRead:
    return _decided(session, approval, user, approve=True, comment=data.comment)


@router.post(
    "/approvals/{approval_id}/reject",
    tags=["approvals"],
    summary="Reject, with the reason: the request item ends",
)
def reject(
    user: Annotated[User, require("approval:decide")],
    approval: CurrentApproval,
    data: RejectDecision,
    session: DbSession,
) -> ApprovalRead:
    return _decided(session, approval, user, approve=False, comment=data.comment)


@router.get(
    "/approval-delegations",
    tags=["approvals"],
    summary="Delegations from or to me (all of them for those who see every request)",
)
def list_delegations(
    user: Annotated[User, require("approval:decide")],
    session: DbSession,
    page: PageQuery,
    user_id: int | None = None,
) -> DelegationPage:
    if not service.can_read_all(user):
        user_id = user.id
    return approvals.list_delegations(session=session, params=page, user_id=user_id).map(
        DelegationRead.model_validate
    )


@router.post(
    "/approval-delegations",
    tags=["approvals"],
    status_code=status.HTTP_201_CREATED,
    summary="Let someone decide my approvals for a period",
)
def create_delegation(
    user: Annotated[User, require("approval:decide")],
    data: DelegationCreate,
    session: DbSession,
) -> DelegationRead:
    delegator = user
    if data.delegator_id is not None and data.delegator_id != user.id:
        if not service.can_read_all(user):
            raise Forbidden("Delegating someone else's approvals needs request:read_all")
        delegator = service.auth_user(session=session, user_id=data.delegator_id)
    delegation = approvals.create_delegation(
        session=session, data=data, actor=user, delegator=delegator
    )
    return DelegationRead.model_validate(delegation)


@router.delete(
    "/approval-delegations/{delegation_id}",
    tags=["approvals"],
    summary="End a delegation now",
)
def revoke_delegation(
    user: Annotated[User, require("approval:decide")],
    delegation_id: int,
    session: DbSession,
) -> DelegationRead:
    delegation = approvals.get_delegation(session=session, delegation_id=delegation_id)
    if delegation.delegator_id != user.id and not service.can_read_all(user):
        raise NotFound(f"Delegation {delegation_id} does not exist")
    return DelegationRead.model_validate(
        approvals.revoke_delegation(session=session, delegation=delegation, now=datetime.now(UTC))
    )


router.include_router(catalog_router)
