"""Incidents: the record itself. Create, update, move through the workflow, comment, search,
and close after resolution; assignment is ``operational.incidents.assignment``.

Every change locks the incident row and appends one event per changed field to the event log in
the same transaction (``operational.incidents.recording``). The work around a change that other
domains do (the SLA timers) is the incident flows' part: these functions never call upward.
Functions flush, never commit, and raise domain exceptions.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Select,
    Text,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    union,
)
from sqlalchemy.orm import Session, aliased, joinedload, lazyload

from operational.auth import service as auth_service
from operational.auth.models import Team, User
from operational.auth.permissions import permissions_for
from operational.core.concurrency import check_version
from operational.core.config import get_settings
from operational.core.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    UnprocessableEntity,
)
from operational.core.pagination import Page, PageParams, paginate
from operational.core.references import record_id, record_number
from operational.customfields import service as custom_fields
from operational.customfields.enums import RecordType
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.incidents import assignment, workflow
from operational.incidents.enums import OPEN_STATES, Channel, IncidentState, NativeHoldReason
from operational.incidents.exceptions import ReopenWindowClosed
from operational.incidents.models import (
    SEARCH_CONFIG,
    Incident,
    IncidentComment,
    incident_number_seq,
)
from operational.incidents.priority import priority_for
from operational.incidents.recording import (
    acknowledge,
    ensure_changeable,
    finish,
    known_user,
    lock,
    now_or,
    plain,
    record,
    record_state,
    set_field,
    user_label,
)
from operational.incidents.schemas import IncidentCreate, IncidentFilters, IncidentUpdate
from operational.sla import timers as sla_timers
from operational.tickets import hooks
from operational.tickets.hooks import RecordChange, Routed, Trigger

NUMBER_PREFIX = "INC"
NUMBER_DIGITS = 7

WORK = "incident:write"
READ_ALL = "incident:read_all"

# Fields a person without incident:write may not set when raising an incident.
AGENT_ONLY_CREATE_FIELDS = ("requester_id", "assignment_group_id", "assignee_id", "channel")
# A requester's impact and urgency are a suggestion: their incident starts at these, the triage
# defaults (P5 by the default matrix), until an agent sets the impact and urgency.
TRIAGE_IMPACT = TRIAGE_URGENCY = 3

# Plain fields: a change is one field_changed event. The event log names fields as the
# importers do, so that native and imported histories read alike.
PLAIN_FIELDS = (
    "title",
    "description",
    "channel",
    "category",
    "subcategory",
    "service",
    "configuration_item",
    "location",
    "problem_ref",
    "change_ref",
)
RESOLUTION_FIELDS = ("resolution_code", "resolution_notes")
EVENT_FIELD_NAMES = {"configuration_item": "ci"}

SORTABLE = {
    "number": Incident.number,
    "title": Incident.title,
    "priority": Incident.priority,
    "impact": Incident.impact,
    "urgency": Incident.urgency,
    "state": Incident.state,
    "opened_at": Incident.opened_at,
    "created_at": Incident.opened_at,
    "updated_at": Incident.updated_at,
    "resolved_at": Incident.resolved_at,
    "closed_at": Incident.closed_at,
}
DEFAULT_SORT = (Incident.opened_at.desc(), Incident.id.desc())


@dataclass(frozen=True)
class Applied:
    """What one update did, for the flow above it: whether anything changed (the SLA timers
    follow only then) and whether it resolved the incident (a survey opens then)."""

    changed: bool
    resolved: bool = False


# ---------------------------------------------------------------------------------- lookups


def can(user: User | None, permission: str) -> bool:
    return user is not None and permission in permissions_for(user.roles)


def can_work(user: User | None) -> bool:
    return can(user, WORK)


def _as_requester(actor: User | None) -> bool:
    """Whether custom fields are limited to the requesters' own: for a person who may not work
    incidents; never for the platform itself (no actor: automation rules, imports)."""
    return actor is not None and not can_work(actor)


def can_read_all(user: User | None) -> bool:
    return can(user, READ_ALL)


class Requested(Protocol):
    """An incident, or what a read of one returns (reads.IncidentJson)."""

    @property
    def requester_id(self) -> int | None: ...


def is_visible_to(incident: Requested, user: User) -> bool:
    """Requesters (no incident:read_all) see only the incidents they raised or were raised for."""
    return can_read_all(user) or incident.requester_id == user.id


def get(*, session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist")
    return incident


# What an incident's response shows of its people and team, joined into the incident's own query:
# their roles, memberships and the team's members load only if someone asks for them.
RESPONSE_LOADS = (
    joinedload(Incident.requester).options(lazyload(User.role_rows), lazyload(User.memberships)),
    joinedload(Incident.assignee).options(lazyload(User.role_rows), lazyload(User.memberships)),
    joinedload(Incident.assignment_group).options(lazyload(Team.members)),
)

_NUMBER_LENGTH = Incident.__table__.c.number.type.length


def get_by_reference(*, session: Session, reference: str) -> Incident:
    """By id (``42``) or by number (``INC0000042``); anything else is not found."""
    reference = reference.strip()
    incident = None
    if (incident_id := record_id(reference)) is not None:
        incident = session.get(Incident, incident_id, options=RESPONSE_LOADS)
    elif number := record_number(reference, max_length=_NUMBER_LENGTH):
        incident = session.scalar(
            select(Incident).where(Incident.number == number).options(*RESPONSE_LOADS)
        )
    if incident is None:
        raise NotFound(f"Incident {reference[:_NUMBER_LENGTH]!r} does not exist")
    return incident


def lock_unless_held(*, session: Session, incident_id: int) -> Incident | None:
    """The incident, locked and reloaded; None when another transaction holds it (an agent's
    update or another worker: that one, or the next scan, does the work)."""
    locked = session.scalar(
        select(Incident.id).where(Incident.id == incident_id).with_for_update(skip_locked=True)
    )
    if locked is None:
        return None
    return session.get(Incident, incident_id, populate_existing=True)


def open_on_ci(*, session: Session, ci_id: int) -> list[Incident]:
    """Open incidents on a configuration item, most urgent first."""
    return list(
        session.scalars(
            select(Incident)
            .where(Incident.ci_id == ci_id, Incident.state.in_(list(OPEN_STATES)))
            .order_by(Incident.priority, Incident.opened_at)
        ).all()
    )


def caused_by_change(*, session: Session, change_id: int) -> list[int]:
    """Ids of the incidents recorded as caused by the change."""
    return list(
        session.scalars(
            select(Incident.id)
            .where(Incident.caused_by_change_id == change_id)
            .order_by(Incident.id)
        ).all()
    )


def sla_rows(*, session: Session, incident_ids: list[int]) -> list[Any]:
    """What the SLA replay reads of many incidents (``sla.timers.TimedRecord``), as light rows."""
    return list(
        session.execute(
            select(
                Incident.id,
                Incident.state,
                Incident.opened_at,
                Incident.requester_id,
                Incident.hold_reason,
                Incident.priority,
                Incident.service,
                Incident.category,
            ).where(Incident.id.in_(incident_ids))
        ).all()
    )


def format_number(value: int) -> str:
    return f"{NUMBER_PREFIX}{value:0{NUMBER_DIGITS}d}"


def _next_number_sql() -> Select:
    """The sequence's next value, and whether an incident has its number already: one
    statement. The number as ``format_number`` writes it (more digits than NUMBER_DIGITS as
    they are)."""
    drawn = select(incident_number_seq.next_value().label("value")).cte("drawn")
    digits = cast(drawn.c.value, Text)
    number = literal(NUMBER_PREFIX) + case(
        (drawn.c.value < 10**NUMBER_DIGITS, func.lpad(digits, NUMBER_DIGITS, "0")), else_=digits
    )
    return select(drawn.c.value, exists().where(Incident.number == number))


_NEXT_NUMBER = _next_number_sql()


def _next_number(session: Session) -> str:
    # Imported tickets keep their source numbers, which may collide with ours: skip those.
    while True:
        value, taken = session.execute(_NEXT_NUMBER).one()
        if not taken:
            return format_number(value)


def _is_agent_of(user: User, incident: Incident) -> bool:
    return can_work(user) and user.id != incident.requester_id


# --------------------------------------------------------------------------------- priority


def _set_priority(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    *,
    priority: int,
    reason: str | None,
    overridden: bool,
    escalation: bool = True,
) -> bool:
    old = incident.priority
    if priority == old:
        return False
    incident.priority = priority
    incident.priority_overridden = overridden
    incident.priority_override_reason = reason if overridden else None
    if escalation and priority < old:
        incident.escalated = True
    record(
        session,
        incident,
        EventKind.priority_changed,
        actor,
        now,
        field="priority",
        old=old,
        new=priority,
        data={
            "reason": reason,
            "overridden": overridden,
            "matrix_priority": priority_for(impact=incident.impact, urgency=incident.urgency),
        },
    )
    return True


def change_priority(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    priority: int,
    reason: str,
    now: datetime | None = None,
) -> bool:
    """Override the matrix priority, with a reason (actor None: the system, e.g. escalation);
    True when the priority changed.

    The override sticks: later impact or urgency changes no longer move the priority.
    Raising the priority marks the incident escalated (docs/incidents.md, first contact).
    """
    if priority not in (1, 2, 3, 4, 5):
        raise UnprocessableEntity(f"Priority runs 1..5, got {priority}")
    if not reason or not reason.strip():
        raise UnprocessableEntity("A priority override needs a reason")
    now = now_or(now)
    lock(session, incident)
    ensure_changeable(incident)
    changed = _set_priority(
        session,
        incident,
        actor,
        now,
        priority=priority,
        reason=reason.strip(),
        overridden=True,
    )
    if changed:
        finish(session, incident, now)
    return changed


def _apply_matrix(
    session: Session, incident: Incident, actor: User | None, now: datetime, *, escalation: bool
) -> bool:
    if incident.priority_overridden:
        return False
    return _set_priority(
        session,
        incident,
        actor,
        now,
        priority=priority_for(impact=incident.impact, urgency=incident.urgency),
        reason="impact x urgency matrix",
        overridden=False,
        escalation=escalation,
    )


# ---------------------------------------------------------------------------------- workflow


def _transition(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    target: IncidentState,
    *,
    hold_reason: str | None = None,
    resolution_code: str | None = None,
    resolution_notes: str | None = None,
    reason: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    current = incident.state
    hold_reason = plain(hold_reason)
    if target == current:
        if target == IncidentState.on_hold and hold_reason:
            return set_field(session, incident, actor, now, "hold_reason", hold_reason)
        if hold_reason and target != IncidentState.on_hold:
            raise UnprocessableEntity("hold_reason applies only to on_hold", field="hold_reason")
        return False
    if not workflow.is_allowed(current, target):
        raise InvalidTransition(current, target.value, workflow.allowed_from(current))
    reopen = workflow.is_reopen(current, target)
    if target == IncidentState.on_hold and not hold_reason:
        raise UnprocessableEntity(
            "Putting an incident on hold needs a hold_reason",
            field="hold_reason",
            allowed=[choice.value for choice in NativeHoldReason],
        )
    if target != IncidentState.on_hold and hold_reason:
        raise UnprocessableEntity("hold_reason applies only to on_hold", field="hold_reason")
    if target in workflow.NEEDS_ASSIGNEE and incident.assignee_id is None and not reopen:
        raise UnprocessableEntity(
            f"Assign someone (assignee_id) before moving to {target.value}", field="assignee_id"
        )
    if target == IncidentState.resolved:
        code = plain(resolution_code) or incident.resolution_code
        notes = resolution_notes or incident.resolution_notes
        if not code or not (notes and notes.strip()):
            raise UnprocessableEntity(
                "Resolving needs a resolution_code and resolution_notes",
                field="resolution_code" if not code else "resolution_notes",
            )
        set_field(session, incident, actor, now, "resolution_code", code)
        set_field(session, incident, actor, now, "resolution_notes", notes)

    first_response = target == IncidentState.in_progress and acknowledge(incident, now)
    data = {
        **(extra or {}),
        "reason": reason,
        "hold_reason": hold_reason,
        "reopen": reopen or None,
        "first_response": first_response or None,
    }
    record_state(session, incident, actor, now, target, data=data)

    if current == IncidentState.on_hold:
        set_field(session, incident, actor, now, "hold_reason", None)
    if target == IncidentState.on_hold:
        set_field(session, incident, actor, now, "hold_reason", hold_reason)
    if target == IncidentState.resolved:
        incident.resolved_at = now
        incident.resolved_by_id = actor.id if actor else None
        if incident.first_resolved_at is None:
            incident.first_resolved_at = now
    if target in (IncidentState.closed, IncidentState.cancelled):
        incident.closed_at = now
    if reopen:
        incident.reopen_count += 1
        incident.resolved_at = None
        incident.resolved_by_id = None
    session.flush()
    return True


def transition(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    state: IncidentState | str,
    hold_reason: str | None = None,
    resolution_code: str | None = None,
    resolution_notes: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Applied:
    """Move the incident to ``state``; an illegal move is InvalidTransition (409)."""
    now = now_or(now)
    lock(session, incident)
    target = IncidentState(state)
    changed = _transition(
        session,
        incident,
        actor,
        now,
        target,
        hold_reason=hold_reason,
        resolution_code=resolution_code,
        resolution_notes=resolution_notes,
        reason=reason,
    )
    if changed:
        finish(session, incident, now)
    return Applied(changed=changed, resolved=changed and target == IncidentState.resolved)


def reopen_deadline(incident: Incident) -> datetime | None:
    if incident.resolved_at is None:
        return None
    return incident.resolved_at + timedelta(days=get_settings().incident_reopen_window_days)


def reopen(
    *,
    session: Session,
    incident: Incident,
    actor: User,
    reason: str,
    now: datetime | None = None,
) -> Incident:
    """Reopen a resolved incident (back to in_progress). Requesters may do so only within the
    reopen window after the resolution; their reason is added as a public comment."""
    now = now_or(now)
    lock(session, incident)
    if incident.state != IncidentState.resolved:
        raise InvalidTransition(
            incident.state, IncidentState.in_progress.value, workflow.allowed_from(incident.state)
        )
    deadline = reopen_deadline(incident)
    if not can_work(actor) and deadline is not None and now > deadline:
        raise ReopenWindowClosed(
            f"{incident.number} was resolved more than "
            f"{get_settings().incident_reopen_window_days:g} days ago; raise a new incident",
            resolved_at=incident.resolved_at.isoformat(),
            reopen_deadline=deadline.isoformat(),
        )
    _add_comment(session, incident, actor, now, body=reason, is_public=True)
    _transition(session, incident, actor, now, IncidentState.in_progress, reason=reason)
    finish(session, incident, now)
    return incident


def close_resolved(*, session: Session, now: datetime, limit: int = 500) -> list[Incident]:
    """Close incidents resolved more than ``incident_auto_close_days`` ago; returns them. Safe
    to run in several processes at once (rows another run holds are skipped)."""
    days = get_settings().incident_auto_close_days
    cutoff = now - timedelta(days=days)
    ids = session.scalars(
        select(Incident.id)
        .where(Incident.state == IncidentState.resolved, Incident.resolved_at <= cutoff)
        .order_by(Incident.resolved_at, Incident.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    closed = []
    for incident_id in ids:
        incident = session.get(Incident, incident_id)
        session.refresh(incident)
        _transition(
            session,
            incident,
            None,
            now,
            IncidentState.closed,
            reason=f"closed automatically {days:g} days after resolution",
            extra={"auto_close": True},
        )
        finish(session, incident, now)
        closed.append(incident)
    return closed


# ------------------------------------------------------------------------------ create/update


def create(
    *,
    session: Session,
    data: IncidentCreate,
    actor: User,
    now: datetime | None = None,
    channel: Channel | None = None,
) -> Incident:
    """Raise an incident; without a team or assignee given, the route rules route it (through
    ``tickets.hooks.route``: none when no router is installed, as in a bare script).

    The caller checks ``incident:override_priority`` before passing ``data.priority``.
    ``channel`` is the intake's own (mail, monitoring: operational.inbound), which a requester
    may not set in ``data``.
    """
    now = now_or(now)
    if not can_work(actor):
        refused = [
            name
            for name in AGENT_ONLY_CREATE_FIELDS
            if getattr(data, name) is not None
            and not (name == "requester_id" and data.requester_id == actor.id)
        ]
        if refused:
            raise Forbidden(
                f"Only agents may set {', '.join(refused)} when raising an incident",
                fields=refused,
            )
    requester = known_user(session, data.requester_id, "requester") if data.requester_id else actor
    impact, urgency = data.impact, data.urgency
    suggested = {}
    if not can_work(actor):
        suggested = {
            f"suggested_{name}": getattr(data, name)
            for name in ("impact", "urgency")
            if name in data.model_fields_set
        }
        impact, urgency = TRIAGE_IMPACT, TRIAGE_URGENCY
    matrix_priority = priority_for(impact=impact, urgency=urgency)
    custom_values = custom_fields.validate(
        session=session,
        record_type=RecordType.incident,
        values=data.custom_fields,
        requester_only=_as_requester(actor),
    )
    incident = Incident(
        number=_next_number(session),
        title=data.title,
        description=data.description,
        requester_id=requester.id,
        opened_by_id=actor.id,
        channel=plain(channel or data.channel or Channel.portal),
        category=data.category,
        subcategory=data.subcategory,
        service=data.service,
        configuration_item=data.configuration_item,
        location=data.location,
        impact=impact,
        urgency=urgency,
        **suggested,
        priority=matrix_priority,
        state=IncidentState.new.value,
        opened_at=now,
        created_at=now,
        updated_at=now,
        problem_ref=data.problem_ref,
        change_ref=data.change_ref,
        custom_fields=custom_values,
    )
    session.add(incident)
    session.flush()
    record(
        session,
        incident,
        EventKind.created,
        actor,
        now,
        new=incident.number,
        data={
            "title": incident.title,
            "state": incident.state,
            "channel": incident.channel,
            "requester": requester.display_name,
            "requester_id": requester.id,
            "category": incident.category,
            "subcategory": incident.subcategory,
            "service": incident.service,
            "ci": incident.configuration_item,
            "impact": incident.impact,
            "urgency": incident.urgency,
            "priority": incident.priority,
            **suggested,
            "custom_fields": custom_values or None,
        },
    )
    if data.priority is not None:
        _set_priority(
            session,
            incident,
            actor,
            now,
            priority=data.priority,
            reason=data.priority_reason,
            overridden=True,
            escalation=False,
        )
    if data.assignment_group_id is not None or data.assignee_id is not None:
        team_id, assignee_id, picked_by = data.assignment_group_id, data.assignee_id, None
        if assignee_id is None:
            assignee_id, picked_by = assignment.member_or_pick(
                session, incident, team_id, auto_pick=True
            )
        assignment.apply(
            session,
            incident,
            actor,
            now,
            team_id=team_id,
            assignee_id=assignee_id,
            picked_by=picked_by,
        )
    else:
        hooks.route(
            session,
            RecordChange(record_type="incident", record=incident, trigger=Trigger.route, now=now),
        )
    finish(session, incident, now, bump=False)
    return incident


def reroute(
    *, session: Session, incident: Incident, actor: User | None, now: datetime | None = None
) -> Routed | None:
    """Route the incident again by the route rules, as it is now (auto-assign)."""
    now = now_or(now)
    lock(session, incident)
    ensure_changeable(incident)
    routed = hooks.route(
        session,
        RecordChange(
            record_type="incident", record=incident, trigger=Trigger.route, now=now, actor=actor
        ),
    )
    if routed is not None and routed.changed:
        finish(session, incident, now)
    return routed


def update(
    *,
    session: Session,
    incident: Incident,
    data: IncidentUpdate,
    actor: User,
    expected_version: int | None,
    now: datetime | None = None,
) -> Applied:
    """Apply the fields sent, in order: plain fields, impact/urgency (and the matrix priority),
    a priority override, the assignment, then the state. Stale ``expected_version``: 412."""
    now = now_or(now)
    lock(session, incident)
    check_version(current=incident.version, expected=expected_version, what=incident.number)
    fields = set(data.model_fields_set) - {"version", "reason", "priority_reason"}
    if not fields:
        return Applied(changed=False)
    ensure_changeable(incident)
    changed = resolved = False
    resolving = data.state == IncidentState.resolved and incident.state != IncidentState.resolved
    for name in PLAIN_FIELDS + RESOLUTION_FIELDS:
        if name in fields and not (resolving and name in RESOLUTION_FIELDS):
            changed |= set_field(session, incident, actor, now, name, getattr(data, name))
    if "custom_fields" in fields:
        changed |= set_custom_fields(session, incident, actor, now, data.custom_fields)
    if "requester_id" in fields and data.requester_id != incident.requester_id:
        old = (
            auth_service.get_user(session=session, user_id=incident.requester_id)
            if incident.requester_id
            else None
        )
        new = known_user(session, data.requester_id, "requester")
        incident.requester_id = new.id
        record(
            session,
            incident,
            EventKind.field_changed,
            actor,
            now,
            field="requester",
            old=user_label(old),
            new=new.display_name,
            data={"old_id": old.id if old else None, "new_id": new.id},
        )
        changed = True
    levels_changed = False
    for name in ("impact", "urgency"):
        if name in fields:
            levels_changed |= set_field(session, incident, actor, now, name, getattr(data, name))
    if levels_changed:
        _apply_matrix(session, incident, actor, now, escalation=True)
    changed |= levels_changed
    if "priority" in fields:
        changed |= _set_priority(
            session,
            incident,
            actor,
            now,
            priority=data.priority,
            reason=data.priority_reason,
            overridden=True,
        )
    changed |= assignment.apply_update(session, incident, data, actor, now, fields)
    if "state" in fields:
        moved = _transition(
            session,
            incident,
            actor,
            now,
            IncidentState(data.state),
            hold_reason=data.hold_reason,
            resolution_code=data.resolution_code if resolving else None,
            resolution_notes=data.resolution_notes if resolving else None,
            reason=data.reason,
        )
        changed |= moved
        resolved = moved and resolving
    elif "hold_reason" in fields:
        if incident.state != IncidentState.on_hold:
            raise UnprocessableEntity("hold_reason applies only to on_hold", field="hold_reason")
        if data.hold_reason is None:
            raise UnprocessableEntity(
                "An incident on hold needs a hold_reason", field="hold_reason"
            )
        changed |= set_field(session, incident, actor, now, "hold_reason", data.hold_reason)
    if changed:
        finish(session, incident, now)
    return Applied(changed=changed, resolved=resolved)


def set_custom_fields(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    values: dict[str, Any] | None,
) -> bool:
    """Apply custom field values (validated; null clears one): one field_changed event per
    field that changed, named cf.<name>. True when any did."""
    after = custom_fields.validate(
        session=session,
        record_type=RecordType.incident,
        values=values,
        current=incident.custom_fields,
        requester_only=_as_requester(actor),
    )
    found = custom_fields.changes(incident.custom_fields, after)
    if not found:
        return False
    incident.custom_fields = after
    for change in found:
        record(
            session,
            incident,
            EventKind.field_changed,
            actor,
            now,
            field=change.event_field,
            old=custom_fields.event_text(change.old),
            new=custom_fields.event_text(change.new),
            data={"old": change.old, "new": change.new},
        )
    return True


def mark_caused_by_change(
    *,
    session: Session,
    incident_id: int,
    change_id: int,
    change_number: str,
    actor: User,
    now: datetime | None = None,
) -> Incident | None:
    """Record that a change caused the incident; None when that was recorded already. An
    unknown incident is a 422 (the caller names it in a request body)."""
    incident = session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update(of=Incident)
    )
    if incident is None:
        raise UnprocessableEntity(f"There is no incident {incident_id}", incident_id=incident_id)
    if incident.caused_by_change_id == change_id:
        return None
    now = now_or(now)
    old = incident.caused_by_change_id
    incident.caused_by_change_id = change_id
    record(
        session,
        incident,
        EventKind.field_changed,
        actor,
        now,
        field="caused_by_change",
        old=old,
        new=change_number,
        data={"change_id": change_id},
    )
    finish(session, incident, now)
    return incident


# ---------------------------------------------------------------------------------- comments


def _add_comment(
    session: Session,
    incident: Incident,
    actor: User,
    now: datetime,
    *,
    body: str,
    is_public: bool,
) -> IncidentComment:
    comment = IncidentComment(
        incident_id=incident.id, author_id=actor.id, is_public=is_public, body=body, created_at=now
    )
    session.add(comment)
    session.flush()
    first_response = is_public and _is_agent_of(actor, incident) and acknowledge(incident, now)
    if (
        is_public
        and actor.id == incident.requester_id
        and incident.first_resolved_at is None
        and incident.state in OPEN_STATES
    ):
        incident.requester_replied_before_resolution = True
    record(
        session,
        incident,
        EventKind.comment_added if is_public else EventKind.work_note_added,
        actor,
        now,
        new=body,
        data={"comment_id": comment.id, "first_response": first_response or None},
    )
    return comment


def add_comment(
    *,
    session: Session,
    incident: Incident,
    actor: User,
    body: str,
    is_public: bool = True,
    now: datetime | None = None,
) -> IncidentComment:
    """A public comment (seen by the requester) or a work note (agents only).

    Comments do not change the version: they never overwrite anybody's edit.
    """
    if not is_public and not can_work(actor):
        raise Forbidden("Only agents can add work notes; comment publicly instead")
    now = now_or(now)
    lock(session, incident)
    comment = _add_comment(session, incident, actor, now, body=body, is_public=is_public)
    finish(session, incident, now, bump=False)
    return comment


def add_system_comment(
    *,
    session: Session,
    incident: Incident,
    body: str,
    is_public: bool = True,
    now: datetime | None = None,
) -> IncidentComment:
    """A comment or work note written by the system (an automation rule), with no author: not
    a first response, and not a requester's reply."""
    now = now_or(now)
    lock(session, incident)
    comment = IncidentComment(
        incident_id=incident.id, author_id=None, is_public=is_public, body=body, created_at=now
    )
    session.add(comment)
    session.flush()
    record(
        session,
        incident,
        EventKind.comment_added if is_public else EventKind.work_note_added,
        None,
        now,
        new=body,
        data={"comment_id": comment.id},
    )
    finish(session, incident, now, bump=False)
    return comment


def list_comments(
    *, session: Session, incident: Incident, include_work_notes: bool
) -> list[IncidentComment]:
    statement = select(IncidentComment).where(IncidentComment.incident_id == incident.id)
    if not include_work_notes:
        statement = statement.where(IncidentComment.is_public)
    return list(
        session.scalars(statement.order_by(IncidentComment.created_at, IncidentComment.id)).all()
    )


def timeline(*, session: Session, incident: Incident) -> list[Event]:
    return list(
        events.list_for(session=session, entity_type=EntityType.incident, entity_id=incident.id)
    )


# ------------------------------------------------------------------------------------- lists


def _search_query(text: str) -> Any:
    return func.websearch_to_tsquery(literal_column(f"'{SEARCH_CONFIG}'::regconfig"), text)


def _filtered(statement: Select[Any], filters: IncidentFilters) -> Select[Any]:
    if filters.state:
        statement = statement.where(Incident.state.in_([state.value for state in filters.state]))
    if filters.priority:
        statement = statement.where(Incident.priority.in_(filters.priority))
    for column, value in (
        (Incident.assignment_group_id, filters.assignment_group_id),
        (Incident.assignee_id, filters.assignee_id),
        (Incident.requester_id, filters.requester_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    for column, value in (
        (Incident.service, filters.service),
        (Incident.category, filters.category),
    ):
        if value:
            statement = statement.where(func.lower(column) == value.strip().lower())
    for column, start, end in (
        (Incident.opened_at, filters.created_from, filters.created_to),
        (Incident.updated_at, filters.updated_from, filters.updated_to),
    ):
        if start is not None:
            statement = statement.where(column >= start)
        if end is not None:
            statement = statement.where(column < end)
    if filters.sla_state:
        statement = statement.where(
            sla_timers.has_timer_in_state(Incident.id, [state.value for state in filters.sla_state])
        )
    return statement


def _matching(
    statement: Select[Any],
    viewer: User,
    filters: IncidentFilters,
    *,
    session: Session,
    custom: Mapping[str, list[str]] | None = None,
) -> Select[Any]:
    """``statement`` narrowed to the incidents ``viewer`` may see that match ``filters`` and
    the custom field filters ``custom`` (``cf.<name>``: customfields.service.filter_clauses)."""
    requester_only = not can_read_all(viewer)
    if requester_only:
        statement = statement.where(Incident.requester_id == viewer.id)
    statement = _filtered(statement, filters)
    statement = statement.where(
        *custom_fields.filter_clauses(
            session=session,
            record_type=RecordType.incident,
            column=Incident.custom_fields,
            params=custom or {},
            requester_only=requester_only,
        )
    )
    text = (filters.q or "").strip()
    if text:
        query = _search_query(text)
        # The ids matched by either GIN index, as one set: "own words OR an EXISTS over the
        # comments" could use neither index and read every incident (O(table), issue 14).
        searched = aliased(Incident)
        comment_match = select(IncidentComment.incident_id).where(
            IncidentComment.search_vector.op("@@")(query)
        )
        if requester_only:
            comment_match = comment_match.where(IncidentComment.is_public)
        own_match = select(searched.id).where(searched.search_vector.op("@@")(query))
        statement = statement.where(Incident.id.in_(union(own_match, comment_match)))
    return statement


def matching_ids(
    *,
    session: Session,
    viewer: User,
    filters: IncidentFilters,
    limit: int,
    custom: Mapping[str, list[str]] | None = None,
) -> tuple[int, list[int]]:
    """How many incidents ``viewer`` may see match ``filters`` and ``custom`` (the list's
    contract), and the ids of the first ``limit`` of them, oldest first (bulk updates select by
    a filter)."""
    total = (
        session.scalar(
            _matching(
                select(func.count(Incident.id)), viewer, filters, session=session, custom=custom
            )
        )
        or 0
    )
    matching = _matching(select(Incident.id), viewer, filters, session=session, custom=custom)
    ids = session.scalars(matching.order_by(Incident.id).limit(limit)).all()
    return total, list(ids)


def _page(
    session: Session,
    statement: Select[Any],
    viewer: User,
    filters: IncidentFilters,
    params: PageParams,
    *,
    scalars: bool,
    custom: Mapping[str, list[str]] | None,
) -> Page[Any]:
    statement = _matching(statement, viewer, filters, session=session, custom=custom)
    default_sort: tuple[Any, ...] = DEFAULT_SORT
    text = (filters.q or "").strip()
    if text:
        rank = func.ts_rank(Incident.search_vector, _search_query(text))
        default_sort = (rank.desc(), *DEFAULT_SORT)
    sortable = SORTABLE | custom_fields.sortable(
        session=session,
        record_type=RecordType.incident,
        column=Incident.custom_fields,
        sort=params.sort,
        requester_only=not can_read_all(viewer),
    )
    return paginate(
        session,
        statement,
        params,
        sortable=sortable,
        default_sort=default_sort,
        scalars=scalars,
        exact_total_limit=get_settings().exact_total_limit,
        estimate_key=(
            "incidents",
            None if can_read_all(viewer) else viewer.id,
            filters.model_dump_json(),
            tuple(sorted((key, tuple(values)) for key, values in (custom or {}).items())),
        ),
        keyset=True,
    )


def search(
    *,
    session: Session,
    viewer: User,
    filters: IncidentFilters,
    params: PageParams,
    custom: Mapping[str, list[str]] | None = None,
) -> Page[Any]:  # of Incident
    """One page of the incidents ``viewer`` may see that match ``filters`` and the custom field
    filters ``custom``.

    ``q`` matches number, title, description and the custom fields' string values (generated
    tsvector on incidents) or any comment (generated tsvector on comments; only public ones for
    requesters). Without an explicit sort, matches come best first. ``sort`` may name custom
    fields (``cf.<name>``).
    """
    statement = select(Incident).options(*RESPONSE_LOADS)
    return _page(session, statement, viewer, filters, params, scalars=True, custom=custom)


def search_ids(
    *,
    session: Session,
    viewer: User,
    filters: IncidentFilters,
    params: PageParams,
    custom: Mapping[str, list[str]] | None = None,
) -> Page[Any]:  # of rows with the incident's id
    """``search``'s page as rows holding only each incident's ``id`` (and its sort keys): for
    responses built from the ids (operational/incidents/reads.py)."""
    return _page(
        session, select(Incident.id), viewer, filters, params, scalars=False, custom=custom
    )
