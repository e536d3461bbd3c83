from typing import Annotated

from fastapi import APIRouter, Query, status

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.core.db import DbSession
from operational.core.errors import NotFound
from operational.core.pagination import PageQuery
from operational.customfields import service
from operational.customfields.dependencies import CurrentDefinition
from operational.customfields.schemas import (
    DefinitionCreate,
    DefinitionFilters,
    DefinitionPage,
    DefinitionRead,
    DefinitionUpdate,
)

router = APIRouter(tags=["custom fields"])

READ_ALL = "customfield:read_all"


@router.get("/custom-fields", summary="Custom field definitions (requesters: those they see)")
def list_definitions(
    user: Annotated[User, require("customfield:read")],
    session: DbSession,
    filters: Annotated[DefinitionFilters, Query()],
    page: PageQuery,
) -> DefinitionPage:
    return service.list_definitions(
        session=session,
        params=page,
        record_type=filters.record_type,
        include_retired=filters.include_retired,
        requester_only=not has_permission(user, READ_ALL),
    ).map(DefinitionRead.model_validate)


@router.post(
    "/custom-fields",
    status_code=status.HTTP_201_CREATED,
    summary="Define a custom field of a record type",
)
def create_definition(
    user: Annotated[User, require("customfield:admin")],
    data: DefinitionCreate,
    session: DbSession,
) -> DefinitionRead:
    return DefinitionRead.model_validate(
        service.create_definition(session=session, data=data, actor=user)
    )


@router.get("/custom-fields/{definition_id}", summary="One custom field definition")
def get_definition(
    user: Annotated[User, require("customfield:read")], definition: CurrentDefinition
) -> DefinitionRead:
    if not definition.requester_visible and not has_permission(user, READ_ALL):
        raise NotFound(f"There is no custom field {definition.id}")
    return DefinitionRead.model_validate(definition)


@router.patch(
    "/custom-fields/{definition_id}",
    summary="Change a custom field's label, options, rules or audience; retire or restore it",
)
def update_definition(
    user: Annotated[User, require("customfield:admin")],
    definition: CurrentDefinition,
    data: DefinitionUpdate,
    session: DbSession,
) -> DefinitionRead:
    return DefinitionRead.model_validate(
        service.update_definition(session=session, definition=definition, data=data, actor=user)
    )
