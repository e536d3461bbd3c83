"""Lookups that 404. The If-Match precondition is in operational.core.concurrency."""

from typing import Annotated

from fastapi import Depends, Path

from operational.changes import blackouts, records, templates
from operational.changes.models import BlackoutWindow, Change, ChangeTemplate
from operational.core.db import DbSession


def _current_change(session: DbSession, change_id: Annotated[int, Path(ge=1)]) -> Change:
    return records.get(session=session, change_id=change_id)


CurrentChange = Annotated[Change, Depends(_current_change)]


def _current_template(
    session: DbSession, template_id: Annotated[int, Path(ge=1)]
) -> ChangeTemplate:
    return templates.get_template(session=session, template_id=template_id)


CurrentTemplate = Annotated[ChangeTemplate, Depends(_current_template)]


def _current_blackout(session: DbSession, window_id: Annotated[int, Path(ge=1)]) -> BlackoutWindow:
    return blackouts.get_blackout(session=session, window_id=window_id)


CurrentBlackout = Annotated[BlackoutWindow, Depends(_current_blackout)]
