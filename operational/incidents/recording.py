"""How the incident service and its assignment module write a change to an incident.

Every change locks the incident row (its event sequence and version depend on it), appends one
event per changed field to the event log, and bumps the version. These helpers are that
discipline, in one place for ``service.py`` and ``assignment.py``.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import Team, User
from operational.core.errors import Conflict, UnprocessableEntity
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.incidents.enums import IncidentState
from operational.incidents.models import Incident

# The event log names fields as the importers do, so that native and imported histories read
# alike.
EVENT_FIELD_NAMES = {"configuration_item": "ci"}


def now_or(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def lock(session: Session, incident: Incident) -> None:
    """Lock the row (the event sequence and the version depend on it) and reload it, in one
    statement (its people and team too, as a refresh would)."""
    session.refresh(incident, with_for_update={"of": Incident})


def record(
    session: Session,
    incident: Incident,
    kind: EventKind,
    actor: User | None,
    now: datetime,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> Event:
    return events.append(
        session=session,
        entity_type=EntityType.incident,
        entity_id=incident.id,
        kind=kind,
        actor=actor,
        field=field,
        old_value=old,
        new_value=new,
        data={key: value for key, value in (data or {}).items() if value is not None} or None,
        occurred_at=now,
        actor_label=actor_label,
    )


def record_state(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    target: IncidentState,
    *,
    data: dict[str, Any],
    actor_label: str | None = None,
) -> None:
    old = incident.state
    incident.state = target.value
    record(
        session,
        incident,
        EventKind.state_changed,
        actor,
        now,
        field="state",
        old=old,
        new=target.value,
        data=data,
        actor_label=actor_label,
    )


def finish(session: Session, incident: Incident, now: datetime, *, bump: bool = True) -> None:
    """After the events: bump the version (comments and creation do not) and the update time."""
    if bump:
        incident.version += 1
    incident.updated_at = now
    session.flush()


def ensure_changeable(incident: Incident) -> None:
    if incident.state in (IncidentState.closed, IncidentState.cancelled):
        raise Conflict(
            f"{incident.number} is {incident.state}; it can no longer be changed",
            state=incident.state,
        )


def acknowledge(incident: Incident, now: datetime) -> bool:
    """Record the first agent touch (MTTA); True when this is it."""
    if incident.acknowledged_at is not None:
        return False
    incident.acknowledged_at = now
    return True


def plain(value: Any) -> Any:
    """An enum's value, anything else as it is."""
    return value.value if hasattr(value, "value") else value


def user_label(user: User | None) -> str | None:
    return user.display_name if user else None


def team_label(team: Team | None) -> str | None:
    return team.name if team else None


def set_field(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    name: str,
    value: Any,
) -> bool:
    value = plain(value)
    old = getattr(incident, name)
    if old == value:
        return False
    setattr(incident, name, value)
    record(
        session,
        incident,
        EventKind.field_changed,
        actor,
        now,
        field=EVENT_FIELD_NAMES.get(name, name),
        old=old,
        new=value,
    )
    return True


def known_user(session: Session, user_id: int, role: str) -> User:
    """The user ``user_id``, named by ``role`` (requester, assignee) in the 422 when unknown."""
    user = auth_service.get_user(session=session, user_id=user_id)
    if user is None:
        raise UnprocessableEntity(f"Unknown {role}: user {user_id} does not exist", field=role)
    return user
