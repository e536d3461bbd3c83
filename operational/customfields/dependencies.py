"""The ``cf.`` query parameters of a list, and the definition a path names (404)."""

from typing import Annotated

from fastapi import Depends, Request

from operational.auth.dependencies import DatabaseId
from operational.core.db import DbSession
from operational.core.openapi import declare_problems
from operational.customfields import service
from operational.customfields.models import CustomFieldDefinition


async def _custom_field_params(request: Request) -> dict[str, list[str]]:
    # A coroutine, as the pages' parameters are: no I/O, so no trip to the thread pool.
    return service.query_params(request.query_params.multi_items())


# The global check of unknown query parameters lets this family through
# (operational/core/limits.py); the list's service refuses an unknown field with a 400.
_custom_field_params.query_prefix = service.PREFIX  # type: ignore[attr-defined]
declare_problems(_custom_field_params, 400)


# cf.<name>=v, cf.<name>_from=, cf.<name>_to= (docs/custom-fields.md): a list passes them to
# its service, which asks customfields.service.filter_clauses for the WHERE clauses.
CustomFieldParams = Annotated[dict[str, list[str]], Depends(_custom_field_params)]


def _definition(definition_id: DatabaseId, session: DbSession) -> CustomFieldDefinition:
    return service.get_definition(session=session, definition_id=definition_id)


CurrentDefinition = Annotated[CustomFieldDefinition, Depends(_definition)]
