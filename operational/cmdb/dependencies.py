"""Lookups that 404. The If-Match precondition is in operational.core.concurrency."""

from typing import Annotated

from fastapi import Depends, Path

from operational.cmdb import service
from operational.cmdb.models import CIClass, ConfigurationItem
from operational.core.db import DbSession


def _current_ci(session: DbSession, ci_id: Annotated[int, Path(ge=1)]) -> ConfigurationItem:
    return service.get(session=session, ci_id=ci_id)


CurrentCI = Annotated[ConfigurationItem, Depends(_current_ci)]


def _current_class(session: DbSession, name: str) -> CIClass:
    return service.get_class(session=session, name=name)


CurrentCIClass = Annotated[CIClass, Depends(_current_class)]
