"""Lookups that 404, and the version an update names (If-Match or body)."""

from typing import Annotated

from fastapi import Depends

from operational.auth.dependencies import CurrentUser
from operational.core.db import DbSession
from operational.core.errors import BadRequest, NotFound
from operational.incidents import service
from operational.incidents.models import Incident


def _visible_incident(incident_id: str, session: DbSession, user: CurrentUser) -> Incident:
    """The incident by id or number. Someone else's incident is a 404 to a requester, exactly
    like a missing one, so that ids and numbers reveal nothing."""
    incident = service.get_by_reference(session=session, reference=incident_id)
    if not service.is_visible_to(incident, user):
        raise NotFound(f"Incident {incident_id} does not exist")
    return incident


CurrentIncident = Annotated[Incident, Depends(_visible_incident)]


def expected_version(header_version: int | None, body_version: int | None) -> int | None:
    """The version named by If-Match or by the body's version field; 400 if they differ."""
    if header_version is not None and body_version is not None and header_version != body_version:
        raise BadRequest(
            f"If-Match names version {header_version} but the body names {body_version}"
        )
    return header_version if header_version is not None else body_version
