"""Live updates: which events a viewer may see, by the same object-level rules as the REST API.

- incidents: the incidents service's visibility (``is_visible_to``): agents and managers see
  every incident's events; a requester only their own incidents', and of those only what the
  REST API shows them (the incident, its state and public comments: never work notes,
  assignments or priority changes, which only the timeline shows, to incident:read_all);
- changes, CIs, problems, service requests and SLA policies: to those whose permission lets
  them read every such record;
- users, teams, exports and everything else: never streamed.
"""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.events import service as events_service
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.incidents import service as incident_service
from operational.incidents.models import Incident
from operational.live.schemas import LiveEvent

# What a requester sees of their own incident (the REST API shows them these, not the log).
REQUESTER_KINDS = frozenset({EventKind.created, EventKind.state_changed, EventKind.comment_added})
# Other records: the permission that reads every one of them.
READ_ALL = {
    EntityType.change: "change:read",
    EntityType.ci: "ci:read",
    EntityType.ci_relationship: "ci:read",
    EntityType.problem: "problem:read",
    EntityType.request: "request:read_all",
    EntityType.request_item: "request:read_all",
    EntityType.request_task: "request:read_all",
    EntityType.sla_policy: "sla:read",
}


def viewer(*, session: Session, user_id: int) -> User | None:
    """The stream's user, re-read for every batch: a deactivated account's stream ends."""
    user = auth_service.get_user(session=session, user_id=user_id)
    return user if user is not None and user.is_active else None


def _incident_visible(incident: Incident | None, event: Event, user: User) -> bool:
    if incident is None or not incident_service.is_visible_to(incident, user):
        return False
    return incident_service.can_read_all(user) or event.kind in REQUESTER_KINDS


def visible(*, session: Session, user: User, events: Sequence[Event]) -> list[LiveEvent]:
    """The events ``user`` may see, as the stream sends them, in order."""
    shown = []
    incidents: dict[int, Incident | None] = {}
    for event in events:
        number = None
        if event.entity_type == EntityType.incident:
            if event.entity_id not in incidents:
                incidents[event.entity_id] = session.get(Incident, event.entity_id)
            incident = incidents[event.entity_id]
            if not _incident_visible(incident, event, user):
                continue
            number = incident.number
        else:
            permission = READ_ALL.get(event.entity_type)
            if permission is None or not has_permission(user, permission):
                continue
        read = LiveEvent.model_validate(event)
        read.number = number
        shown.append(read)
    return shown


def named(*, session: Session, user_id: int, event_ids: Sequence[int]) -> list[LiveEvent] | None:
    """The notified events ``user_id`` may see; None when the account is gone or deactivated."""
    user = viewer(session=session, user_id=user_id)
    if user is None:
        return None
    return visible(
        session=session,
        user=user,
        events=events_service.by_ids(session=session, event_ids=event_ids),
    )


def replay(
    *, session: Session, user_id: int, after_id: int, limit: int
) -> tuple[list[LiveEvent], int] | None:
    """After a reconnect: the events since ``after_id`` the user may see (at most ``limit`` read),
    and the last id read; None when the account is gone or deactivated."""
    user = viewer(session=session, user_id=user_id)
    if user is None:
        return None
    events = events_service.after(session=session, event_id=after_id, limit=limit)
    last = events[-1].id if events else after_id
    return visible(session=session, user=user, events=events), last
