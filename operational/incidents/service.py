"""Incidents: create, update, assign, move through the workflow, comment, search and auto-close.

Every change locks the incident row, appends one event per changed field to the event log in
the same transaction, and then lets the SLA engine recompute the incident's timers.
Functions flush, never commit, and raise domain exceptions.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session

from operational.auth.models import Team, User
from operational.auth.permissions import permissions_for
from operational.core.concurrency import check_version
from operational.core.config import get_settings
from operational.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    UnprocessableEntity,
)
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.incidents import assignment, csat, workflow
from operational.incidents.enums import OPEN_STATES, Channel, IncidentState, NativeHoldReason
from operational.incidents.exceptions import AssigneeNotInTeam, ReopenWindowClosed
from operational.incidents.models import (
    SEARCH_CONFIG,
    AssignmentRule,
    Incident,
    IncidentComment,
    incident_number_seq,
)
from operational.incidents.priority import priority_for
from operational.incidents.schemas import IncidentCreate, IncidentFilters, IncidentUpdate
from operational.sla import service as sla_service

NUMBER_PREFIX = "INC"
NUMBER_DIGITS = 7

WORK = "incident:write"
READ_ALL = "incident:read_all"

# Fields a person without incident:write may not set when raising an incident.
AGENT_ONLY_CREATE_FIELDS = ("requester_id", "assignment_group_id", "assignee_id", "channel")

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

# The key under which a request's freshly opened survey invitation waits for the router.
_INVITATIONS = "incidents.csat_invitations"


# ---------------------------------------------------------------------------------- lookups


def can(user: User | None, permission: str) -> bool:
    return user is not None and permission in permissions_for(user.roles)


def can_work(user: User | None) -> bool:
    return can(user, WORK)


def can_read_all(user: User | None) -> bool:
    return can(user, READ_ALL)


def is_visible_to(incident: Incident, user: User) -> bool:
    """Requesters (no incident:read_all) see only the incidents they raised or were raised for."""
    return can_read_all(user) or incident.requester_id == user.id


def get(*, session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist")
    return incident


def get_by_reference(*, session: Session, reference: str) -> Incident:
    """By id (``42``) or by number (``INC0000042``)."""
    reference = reference.strip()
    if reference.isdigit():
        incident = session.get(Incident, int(reference))
    else:
        incident = session.scalar(select(Incident).where(Incident.number == reference.upper()))
    if incident is None:
        raise NotFound(f"Incident {reference} does not exist")
    return incident


def format_number(value: int) -> str:
    return f"{NUMBER_PREFIX}{value:0{NUMBER_DIGITS}d}"


def _next_number(session: Session) -> str:
    # Imported tickets keep their source numbers, which may collide with ours: skip those.
    while True:
        number = format_number(session.scalar(select(incident_number_seq.next_value())))
        if not session.scalar(select(exists().where(Incident.number == number))):
            return number


# ---------------------------------------------------------------------------------- helpers


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _lock(session: Session, incident: Incident) -> None:
    """Lock the row (the event sequence and the version depend on it) and reload it."""
    session.execute(select(Incident.id).where(Incident.id == incident.id).with_for_update())
    session.refresh(incident)


def _record(
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


def _finish(session: Session, incident: Incident, now: datetime, *, bump: bool = True) -> None:
    """After the events: bump the version, then let the SLA engine recompute the timers as of
    ``now``, the time the events carry."""
    if bump:
        incident.version += 1
    incident.updated_at = now
    session.flush()
    sla_service.recompute_timers(session=session, incident=incident, now=now)


def _ensure_changeable(incident: Incident) -> None:
    if incident.state in (IncidentState.closed, IncidentState.cancelled):
        raise Conflict(
            f"{incident.number} is {incident.state}; it can no longer be changed",
            state=incident.state,
        )


def _acknowledge(incident: Incident, now: datetime) -> bool:
    """Record the first agent touch (MTTA); True when this is it."""
    if incident.acknowledged_at is not None:
        return False
    incident.acknowledged_at = now
    return True


def _is_agent_of(user: User, incident: Incident) -> bool:
    return can_work(user) and user.id != incident.requester_id


def _user_label(user: User | None) -> str | None:
    return user.display_name if user else None


def _team_label(team: Team | None) -> str | None:
    return team.name if team else None


def _value(value: Any) -> Any:
    return value.value if hasattr(value, "value") else value


def _user(session: Session, user_id: int, role: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UnprocessableEntity(f"Unknown {role}: user {user_id} does not exist", field=role)
    return user


def _set_field(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    name: str,
    value: Any,
) -> bool:
    value = _value(value)
    old = getattr(incident, name)
    if old == value:
        return False
    setattr(incident, name, value)
    _record(
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
    _record(
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
) -> Incident:
    """Override the matrix priority, with a reason (actor None: the system, e.g. escalation).

    The override sticks: later impact or urgency changes no longer move the priority.
    Raising the priority marks the incident escalated (docs/incidents.md, first contact).
    """
    if priority not in (1, 2, 3, 4, 5):
        raise UnprocessableEntity(f"Priority runs 1..5, got {priority}")
    if not reason or not reason.strip():
        raise UnprocessableEntity("A priority override needs a reason")
    now = _now(now)
    _lock(session, incident)
    _ensure_changeable(incident)
    if _set_priority(
        session,
        incident,
        actor,
        now,
        priority=priority,
        reason=reason.strip(),
        overridden=True,
    ):
        _finish(session, incident, now)
    return incident


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


# ------------------------------------------------------------------------------- assignment


def _assign(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    *,
    team_id: int | None,
    assignee_id: int | None,
    reason: str | None = None,
    rule: Any = None,
    picked_by: str | None = None,
) -> bool:
    """Set the team and the person exactly as given; record, count and acknowledge."""
    old_team_id, old_assignee_id = incident.assignment_group_id, incident.assignee_id
    if team_id == old_team_id and assignee_id == old_assignee_id:
        return False
    team = session.get(Team, team_id) if team_id is not None else None
    if team_id is not None and team is None:
        raise UnprocessableEntity(f"Unknown team {team_id}", field="assignment_group_id")
    if team is not None and team_id != old_team_id and not team.is_active:
        raise UnprocessableEntity(f"Team {team.name!r} is inactive", field="assignment_group_id")
    assignee = _user(session, assignee_id, "assignee") if assignee_id is not None else None
    if (
        assignee is not None
        and assignee_id != old_assignee_id
        and not assignment.can_work_incidents(assignee)
    ):
        raise UnprocessableEntity(
            f"{assignee.display_name} cannot work incidents", field="assignee_id"
        )
    if (
        team is not None
        and assignee is not None
        and not assignment.is_member(session=session, team_id=team.id, user_id=assignee.id)
    ):
        raise AssigneeNotInTeam(
            f"{assignee.display_name} is not a member of {team.name!r}",
            team_id=team.id,
            assignee_id=assignee.id,
        )

    automatic = isinstance(rule, AssignmentRule)
    label = "auto-assignment" if automatic and actor is None else None
    data: dict[str, Any] = {"reason": reason, "picked_by": picked_by}
    if automatic:
        data["rule_id"] = rule.id
    elif rule is not None:  # an SLA escalation rule
        data["escalation_rule_id"] = getattr(rule, "id", None)
    system_escalation = actor is None and not automatic

    old_team = session.get(Team, old_team_id) if old_team_id is not None else None
    old_assignee = session.get(User, old_assignee_id) if old_assignee_id is not None else None
    first_assignment = old_team_id is None and old_assignee_id is None
    reassigned = (old_team_id is not None and team_id != old_team_id) or (
        old_assignee_id is not None and assignee_id != old_assignee_id
    )

    incident.assignment_group_id = team_id
    incident.assignee_id = assignee_id
    if first_assignment:
        incident.first_assigned_at = now
    if incident.first_assignment_group_id is None and team_id is not None:
        incident.first_assignment_group_id = team_id
    if incident.first_assignee_id is None and assignee_id is not None:
        incident.first_assignee_id = assignee_id
    if reassigned:
        incident.reassignment_count += 1
    if system_escalation:
        incident.escalated = True

    if team_id != old_team_id:
        _record(
            session,
            incident,
            EventKind.assigned,
            actor,
            now,
            field="assignment_group",
            old=_team_label(old_team),
            new=_team_label(team),
            data={**data, "old_id": old_team_id, "new_id": team_id},
            actor_label=label,
        )
    if assignee_id != old_assignee_id:
        # Assignment to a person counts as the first response when a person made it.
        first_response = (
            assignee_id is not None
            and actor is not None
            and not automatic
            and picked_by is None
            and _acknowledge(incident, now)
        )
        _record(
            session,
            incident,
            EventKind.assigned,
            actor,
            now,
            field="assignee",
            old=_user_label(old_assignee),
            new=_user_label(assignee),
            data={
                **data,
                "old_id": old_assignee_id,
                "new_id": assignee_id,
                "first_response": first_response or None,
            },
            actor_label=label,
        )
    if team_id is not None and assignee_id is not None:
        assignment.note_assignment(session=session, team_id=team_id, user_id=assignee_id, now=now)
    if assignee_id is not None and incident.state == IncidentState.new:
        _record_state(
            session, incident, actor, now, IncidentState.assigned, data={}, actor_label=label
        )
    session.flush()
    return True


def _member_or_pick(
    session: Session, incident: Incident, team_id: int, *, auto_pick: bool
) -> tuple[int | None, str | None]:
    """The person for an assignment to ``team_id`` that names nobody."""
    current = incident.assignee_id
    if current is not None and assignment.is_member(
        session=session, team_id=team_id, user_id=current
    ):
        return current, None
    if not auto_pick:
        return None, None
    team = session.get(Team, team_id)
    if team is None:
        raise UnprocessableEntity(f"Unknown team {team_id}", field="assignment_group_id")
    member = assignment.pick_member(session=session, team=team)
    return (member.id, team.assignment_strategy) if member else (None, None)


def assign(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    team_id: int | None = None,
    assignee_id: int | None = None,
    reason: str | None = None,
    rule: Any = None,
    auto_pick: bool = True,
    now: datetime | None = None,
) -> Incident:
    """Assign to a team, a person, or both (actor None: the system, e.g. an SLA escalation).

    - team only: the team's current assignee stays if they belong to it; otherwise the team's
      strategy picks an available member (``auto_pick``), or the incident waits in the queue;
    - person only: the team stays, and the person must belong to it;
    - both: exactly these.
    ``rule`` is the AssignmentRule that chose the team (data.rule_id), or an SLA escalation rule
    (data.escalation_rule_id). A system assignment outside a rule marks the incident escalated.
    """
    if team_id is None and assignee_id is None:
        raise BadRequest("Name a team, an assignee or both")
    now = _now(now)
    _lock(session, incident)
    _ensure_changeable(incident)
    target_team = team_id if team_id is not None else incident.assignment_group_id
    picked_by = None
    if assignee_id is None:
        assignee_id, picked_by = _member_or_pick(session, incident, team_id, auto_pick=auto_pick)
    if _assign(
        session,
        incident,
        actor,
        now,
        team_id=target_team,
        assignee_id=assignee_id,
        reason=reason,
        rule=rule,
        picked_by=picked_by,
    ):
        _finish(session, incident, now)
    return incident


def _auto_assign(session: Session, incident: Incident, actor: User | None, now: datetime) -> bool:
    rule = assignment.matching_rule(session=session, incident=incident)
    if rule is None:
        return False
    assignee_id, picked_by = _member_or_pick(session, incident, rule.team_id, auto_pick=True)
    return _assign(
        session,
        incident,
        actor,
        now,
        team_id=rule.team_id,
        assignee_id=assignee_id,
        rule=rule,
        picked_by=picked_by,
        reason=f"assignment rule {rule.name!r}",
    )


def auto_assign(
    *, session: Session, incident: Incident, actor: User | None, now: datetime | None = None
) -> AssignmentRule | None:
    """Run the assignment rules against the incident as it is now; the rule that fired, if any."""
    now = _now(now)
    _lock(session, incident)
    _ensure_changeable(incident)
    rule = assignment.matching_rule(session=session, incident=incident)
    if rule is not None and _auto_assign(session, incident, actor, now):
        _finish(session, incident, now)
    return rule


# ---------------------------------------------------------------------------------- workflow


def _record_state(
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
    _record(
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
    hold_reason = _value(hold_reason)
    if target == current:
        if target == IncidentState.on_hold and hold_reason:
            return _set_field(session, incident, actor, now, "hold_reason", hold_reason)
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
        code = _value(resolution_code) or incident.resolution_code
        notes = resolution_notes or incident.resolution_notes
        if not code or not (notes and notes.strip()):
            raise UnprocessableEntity(
                "Resolving needs a resolution_code and resolution_notes",
                field="resolution_code" if not code else "resolution_notes",
            )
        _set_field(session, incident, actor, now, "resolution_code", code)
        _set_field(session, incident, actor, now, "resolution_notes", notes)

    first_response = target == IncidentState.in_progress and _acknowledge(incident, now)
    data = {
        **(extra or {}),
        "reason": reason,
        "hold_reason": hold_reason,
        "reopen": reopen or None,
        "first_response": first_response or None,
    }
    _record_state(session, incident, actor, now, target, data=data)

    if current == IncidentState.on_hold:
        _set_field(session, incident, actor, now, "hold_reason", None)
    if target == IncidentState.on_hold:
        _set_field(session, incident, actor, now, "hold_reason", hold_reason)
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
    if target == IncidentState.resolved and incident.requester_id is not None:
        invitation = csat.open_survey(session=session, incident=incident, now=now)
        session.info.setdefault(_INVITATIONS, {})[incident.id] = invitation
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
) -> Incident:
    """Move the incident to ``state``; an illegal move is InvalidTransition (409)."""
    now = _now(now)
    _lock(session, incident)
    if _transition(
        session,
        incident,
        actor,
        now,
        IncidentState(state),
        hold_reason=hold_reason,
        resolution_code=resolution_code,
        resolution_notes=resolution_notes,
        reason=reason,
    ):
        _finish(session, incident, now)
    return incident


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
    now = _now(now)
    _lock(session, incident)
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
    _finish(session, incident, now)
    return incident


def close_resolved_incidents(*, session: Session, now: datetime, limit: int = 500) -> int:
    """Close incidents resolved more than ``incident_auto_close_days`` ago. Safe to run in
    several processes at once (rows another run holds are skipped). Returns how many closed."""
    days = get_settings().incident_auto_close_days
    cutoff = now - timedelta(days=days)
    ids = session.scalars(
        select(Incident.id)
        .where(Incident.state == IncidentState.resolved, Incident.resolved_at <= cutoff)
        .order_by(Incident.resolved_at, Incident.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
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
        _finish(session, incident, now)
    return len(ids)


# ------------------------------------------------------------------------------ create/update


def create(
    *, session: Session, data: IncidentCreate, actor: User, now: datetime | None = None
) -> Incident:
    """Raise an incident; without a team or assignee given, the assignment rules route it.

    The caller checks ``incident:override_priority`` before passing ``data.priority``.
    """
    now = _now(now)
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
    requester = _user(session, data.requester_id, "requester") if data.requester_id else actor
    matrix_priority = priority_for(impact=data.impact, urgency=data.urgency)
    incident = Incident(
        number=_next_number(session),
        title=data.title,
        description=data.description,
        requester_id=requester.id,
        opened_by_id=actor.id,
        channel=_value(data.channel or Channel.portal),
        category=data.category,
        subcategory=data.subcategory,
        service=data.service,
        configuration_item=data.configuration_item,
        location=data.location,
        impact=data.impact,
        urgency=data.urgency,
        priority=matrix_priority,
        state=IncidentState.new.value,
        opened_at=now,
        created_at=now,
        updated_at=now,
        problem_ref=data.problem_ref,
        change_ref=data.change_ref,
    )
    session.add(incident)
    session.flush()
    _record(
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
            assignee_id, picked_by = _member_or_pick(session, incident, team_id, auto_pick=True)
        _assign(
            session,
            incident,
            actor,
            now,
            team_id=team_id,
            assignee_id=assignee_id,
            picked_by=picked_by,
        )
    else:
        _auto_assign(session, incident, None, now)
    _finish(session, incident, now, bump=False)
    return incident


def _update_assignment(
    session: Session,
    incident: Incident,
    data: IncidentUpdate,
    actor: User,
    now: datetime,
    fields: set[str],
) -> bool:
    team_given, person_given = "assignment_group_id" in fields, "assignee_id" in fields
    if not (team_given or person_given):
        return False
    team_id = data.assignment_group_id if team_given else incident.assignment_group_id
    assignee_id = data.assignee_id if person_given else incident.assignee_id
    picked_by = None
    if team_given and not person_given and team_id is not None:
        assignee_id, picked_by = _member_or_pick(session, incident, team_id, auto_pick=True)
    return _assign(
        session,
        incident,
        actor,
        now,
        team_id=team_id,
        assignee_id=assignee_id,
        reason=data.reason,
        picked_by=picked_by,
    )


def update(
    *,
    session: Session,
    incident: Incident,
    data: IncidentUpdate,
    actor: User,
    expected_version: int | None,
    now: datetime | None = None,
) -> Incident:
    """Apply the fields sent, in order: plain fields, impact/urgency (and the matrix priority),
    a priority override, the assignment, then the state. Stale ``expected_version``: 412."""
    now = _now(now)
    _lock(session, incident)
    check_version(current=incident.version, expected=expected_version, what=incident.number)
    fields = set(data.model_fields_set) - {"version", "reason", "priority_reason"}
    if not fields:
        return incident
    _ensure_changeable(incident)
    changed = False
    resolving = data.state == IncidentState.resolved and incident.state != IncidentState.resolved
    for name in PLAIN_FIELDS + RESOLUTION_FIELDS:
        if name in fields and not (resolving and name in RESOLUTION_FIELDS):
            changed |= _set_field(session, incident, actor, now, name, getattr(data, name))
    if "requester_id" in fields and data.requester_id != incident.requester_id:
        old = session.get(User, incident.requester_id) if incident.requester_id else None
        new = _user(session, data.requester_id, "requester")
        incident.requester_id = new.id
        _record(
            session,
            incident,
            EventKind.field_changed,
            actor,
            now,
            field="requester",
            old=_user_label(old),
            new=new.display_name,
            data={"old_id": old.id if old else None, "new_id": new.id},
        )
        changed = True
    levels_changed = False
    for name in ("impact", "urgency"):
        if name in fields:
            levels_changed |= _set_field(session, incident, actor, now, name, getattr(data, name))
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
    changed |= _update_assignment(session, incident, data, actor, now, fields)
    if "state" in fields:
        changed |= _transition(
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
    elif "hold_reason" in fields:
        if incident.state != IncidentState.on_hold:
            raise UnprocessableEntity("hold_reason applies only to on_hold", field="hold_reason")
        if data.hold_reason is None:
            raise UnprocessableEntity(
                "An incident on hold needs a hold_reason", field="hold_reason"
            )
        changed |= _set_field(session, incident, actor, now, "hold_reason", data.hold_reason)
    if changed:
        _finish(session, incident, now)
    return incident


def pop_survey_invitation(*, session: Session, incident: Incident) -> csat.SurveyInvitation | None:
    """The survey opened by this unit of work for the incident, once."""
    return session.info.get(_INVITATIONS, {}).pop(incident.id, None)


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
    first_response = is_public and _is_agent_of(actor, incident) and _acknowledge(incident, now)
    if (
        is_public
        and actor.id == incident.requester_id
        and incident.first_resolved_at is None
        and incident.state in OPEN_STATES
    ):
        incident.requester_replied_before_resolution = True
    _record(
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
    now = _now(now)
    _lock(session, incident)
    comment = _add_comment(session, incident, actor, now, body=body, is_public=is_public)
    _finish(session, incident, now, bump=False)
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
            sla_service.incident_sla_state_condition([state.value for state in filters.sla_state])
        )
    return statement


def search(
    *, session: Session, viewer: User, filters: IncidentFilters, params: PageParams
) -> Page[Any]:  # of Incident
    """One page of the incidents ``viewer`` may see that match ``filters``.

    ``q`` matches number, title and description (generated tsvector on incidents) or any
    comment (generated tsvector on comments; only public ones for requesters). Without an
    explicit sort, matches come best first.
    """
    statement = select(Incident)
    if not can_read_all(viewer):
        statement = statement.where(Incident.requester_id == viewer.id)
    statement = _filtered(statement, filters)
    default_sort: tuple[Any, ...] = DEFAULT_SORT
    text = (filters.q or "").strip()
    if text:
        query = _search_query(text)
        comment_match = select(IncidentComment.id).where(
            IncidentComment.incident_id == Incident.id,
            IncidentComment.search_vector.op("@@")(query),
        )
        if not can_read_all(viewer):
            comment_match = comment_match.where(IncidentComment.is_public)
        statement = statement.where(
            or_(Incident.search_vector.op("@@")(query), comment_match.exists())
        )
        default_sort = (func.ts_rank(Incident.search_vector, query).desc(), *DEFAULT_SORT)
    return paginate(session, statement, params, sortable=SORTABLE, default_sort=default_sort)
