"""Lookups that 404. Someone else's request, item or approval is a 404 to a requester, exactly
like a missing one, so that ids and numbers reveal nothing."""

from typing import Annotated

from fastapi import Depends

from operational.auth.dependencies import CurrentUser
from operational.core.db import DbSession
from operational.core.errors import NotFound
from operational.requests import approvals, catalog, fulfilment, service
from operational.requests.models import Approval, CatalogItem, Request, RequestItem, RequestTask


def _visible_request(request_id: str, session: DbSession, user: CurrentUser) -> Request:
    request = service.get_request(session=session, reference=request_id)
    if not service.is_visible_to(request, user):
        raise NotFound(f"Request {request_id} does not exist")
    return request


def _visible_item(item_id: str, session: DbSession, user: CurrentUser) -> RequestItem:
    item = service.get_item(session=session, reference=item_id)
    if not service.is_visible_to(item.request, user):
        raise NotFound(f"Request item {item_id} does not exist")
    return item


def _task(task_id: str, session: DbSession) -> RequestTask:
    return fulfilment.get_by_reference(session=session, reference=task_id)


def _catalog_item(item_id: int, session: DbSession) -> CatalogItem:
    return catalog.get_item(session=session, item_id=item_id)


def _approval(approval_id: int, session: DbSession, user: CurrentUser) -> Approval:
    approval = approvals.get(session=session, approval_id=approval_id)
    if not service.can_read_all(user) and not approvals.may_see(
        session=session, approval=approval, user=user
    ):
        raise NotFound(f"Approval {approval_id} does not exist")
    return approval


CurrentRequest = Annotated[Request, Depends(_visible_request)]
CurrentRequestItem = Annotated[RequestItem, Depends(_visible_item)]
CurrentTask = Annotated[RequestTask, Depends(_task)]
CurrentCatalogItem = Annotated[CatalogItem, Depends(_catalog_item)]
CurrentApproval = Annotated[Approval, Depends(_approval)]
