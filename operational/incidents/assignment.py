"""Assignment: within a team, which member; and applying an assignment to an incident.

Which team a new incident goes to is the route rules' decision (automation rules of the
``route`` trigger, which the assignment-rule API manages too: ``operational.automation``); they
call ``member_or_pick`` and ``apply`` here. Within the team, the team's strategy picks among
members who are active, marked available and allowed to work incidents:

- round_robin: the member whose last assignment in this team is oldest (never assigned first);
- least_loaded: the member with the fewest open incidents assigned to them (any team), ties
  broken like round_robin.

It also applies an assignment to an incident (``apply``, and the public ``assign`` that the
incident flows call), recording it as the incident service records every change
(``operational.incidents.recording``).
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import Team, TeamMember, User
from operational.auth.permissions import permissions_for
from operational.core.errors import BadRequest, UnprocessableEntity
from operational.events.enums import EventKind
from operational.incidents.enums import OPEN_STATES, AssignmentStrategy, IncidentState
from operational.incidents.exceptions import AssigneeNotInTeam
from operational.incidents.models import Incident
from operational.incidents.recording import (
    acknowledge,
    ensure_changeable,
    finish,
    known_user,
    lock,
    now_or,
    record,
    record_state,
    team_label,
    user_label,
)
from operational.incidents.schemas import IncidentUpdate

WORK_PERMISSION = "incident:write"
_NEVER = datetime.min.replace(tzinfo=UTC)


def can_work_incidents(user: User) -> bool:
    return user.is_active and WORK_PERMISSION in permissions_for(user.roles)


def candidates(*, session: Session, team: Team) -> list[TeamMember]:
    """Members who may receive work now, locked so that concurrent picks do not collide."""
    members = auth_service.available_members(session=session, team_id=team.id)
    return [member for member in members if can_work_incidents(member.user)]


def open_load(*, session: Session, user_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(Incident.assignee_id, func.count())
        .where(Incident.assignee_id.in_(user_ids), Incident.state.in_(list(OPEN_STATES)))
        .group_by(Incident.assignee_id)
    ).all()
    return {user_id: count for user_id, count in rows}


def pick_member(*, session: Session, team: Team, strategy: str | None = None) -> User | None:
    """The member the team's strategy (or ``strategy``: round_robin, least_loaded) gives the
    next incident to, or None when nobody can."""
    strategy = strategy or team.assignment_strategy
    members = candidates(session=session, team=team)
    if not members:
        return None

    def rotation(member: TeamMember) -> tuple[datetime, int]:
        return (member.last_assigned_at or _NEVER, member.user_id)

    if strategy == AssignmentStrategy.least_loaded:
        load = open_load(session=session, user_ids=[member.user_id for member in members])
        chosen = min(members, key=lambda member: (load.get(member.user_id, 0), *rotation(member)))
    else:
        chosen = min(members, key=rotation)
    return chosen.user


# ------------------------------------------------------------------- assigning an incident


def apply(
    session: Session,
    incident: Incident,
    actor: User | None,
    now: datetime,
    *,
    team_id: int | None,
    assignee_id: int | None,
    reason: str | None = None,
    rule_id: int | None = None,
    escalation_rule_id: int | None = None,
    picked_by: str | None = None,
) -> bool:
    """Set the team and the person exactly as given; record, count and acknowledge.
    ``rule_id``: the route rule that chose the team; ``escalation_rule_id``: the SLA escalation
    rule that moved it."""
    old_team_id, old_assignee_id = incident.assignment_group_id, incident.assignee_id
    if team_id == old_team_id and assignee_id == old_assignee_id:
        return False
    team = auth_service.get_team(session=session, team_id=team_id) if team_id is not None else None
    if team_id is not None and team is None:
        raise UnprocessableEntity(f"Unknown team {team_id}", field="assignment_group_id")
    if team is not None and team_id != old_team_id and not team.is_active:
        raise UnprocessableEntity(f"Team {team.name!r} is inactive", field="assignment_group_id")
    assignee = known_user(session, assignee_id, "assignee") if assignee_id is not None else None
    if assignee is not None and assignee_id != old_assignee_id and not can_work_incidents(assignee):
        raise UnprocessableEntity(
            f"{assignee.display_name} cannot work incidents", field="assignee_id"
        )
    if (
        team is not None
        and assignee is not None
        and not auth_service.is_member(session=session, team_id=team.id, user_id=assignee.id)
    ):
        raise AssigneeNotInTeam(
            f"{assignee.display_name} is not a member of {team.name!r}",
            team_id=team.id,
            assignee_id=assignee.id,
        )

    automatic = rule_id is not None
    label = "auto-assignment" if automatic and actor is None else None
    data: dict[str, Any] = {"reason": reason, "picked_by": picked_by}
    if automatic:
        data["rule_id"] = rule_id
    elif escalation_rule_id is not None:
        data["escalation_rule_id"] = escalation_rule_id
    system_escalation = actor is None and not automatic

    old_team = (
        auth_service.get_team(session=session, team_id=old_team_id)
        if old_team_id is not None
        else None
    )
    old_assignee = (
        auth_service.get_user(session=session, user_id=old_assignee_id)
        if old_assignee_id is not None
        else None
    )
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
        record(
            session,
            incident,
            EventKind.assigned,
            actor,
            now,
            field="assignment_group",
            old=team_label(old_team),
            new=team_label(team),
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
            and acknowledge(incident, now)
        )
        record(
            session,
            incident,
            EventKind.assigned,
            actor,
            now,
            field="assignee",
            old=user_label(old_assignee),
            new=user_label(assignee),
            data={
                **data,
                "old_id": old_assignee_id,
                "new_id": assignee_id,
                "first_response": first_response or None,
            },
            actor_label=label,
        )
    if team_id is not None and assignee_id is not None:
        auth_service.note_assignment(session=session, team_id=team_id, user_id=assignee_id, now=now)
    if assignee_id is not None and incident.state == IncidentState.new:
        record_state(
            session, incident, actor, now, IncidentState.assigned, data={}, actor_label=label
        )
    session.flush()
    return True


def member_or_pick(
    session: Session, incident: Incident, team_id: int, *, auto_pick: bool
) -> tuple[int | None, str | None]:
    """The person for an assignment to ``team_id`` that names nobody."""
    current = incident.assignee_id
    if current is not None and auth_service.is_member(
        session=session, team_id=team_id, user_id=current
    ):
        return current, None
    if not auto_pick:
        return None, None
    team = auth_service.get_team(session=session, team_id=team_id)
    if team is None:
        raise UnprocessableEntity(f"Unknown team {team_id}", field="assignment_group_id")
    member = pick_member(session=session, team=team)
    return (member.id, team.assignment_strategy) if member else (None, None)


def assign(
    *,
    session: Session,
    incident: Incident,
    actor: User | None,
    team_id: int | None = None,
    assignee_id: int | None = None,
    reason: str | None = None,
    escalation_rule_id: int | None = None,
    auto_pick: bool = True,
    now: datetime | None = None,
) -> bool:
    """Assign to a team, a person, or both (actor None: the system, e.g. an SLA escalation);
    True when the assignment changed.

    - team only: the team's current assignee stays if they belong to it; otherwise the team's
      strategy picks an available member (``auto_pick``), or the incident waits in the queue;
    - person only: the team stays, and the person must belong to it;
    - both: exactly these.
    ``escalation_rule_id``: the SLA escalation rule that moved it (data.escalation_rule_id). A
    system assignment (actor None) marks the incident escalated.
    """
    if team_id is None and assignee_id is None:
        raise BadRequest("Name a team, an assignee or both")
    now = now_or(now)
    lock(session, incident)
    ensure_changeable(incident)
    target_team = team_id if team_id is not None else incident.assignment_group_id
    picked_by = None
    if assignee_id is None:
        assignee_id, picked_by = member_or_pick(session, incident, team_id, auto_pick=auto_pick)
    changed = apply(
        session,
        incident,
        actor,
        now,
        team_id=target_team,
        assignee_id=assignee_id,
        reason=reason,
        escalation_rule_id=escalation_rule_id,
        picked_by=picked_by,
    )
    if changed:
        finish(session, incident, now)
    return changed


def apply_update(
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
        assignee_id, picked_by = member_or_pick(session, incident, team_id, auto_pick=True)
    return apply(
        session,
        incident,
        actor,
        now,
        team_id=team_id,
        assignee_id=assignee_id,
        reason=data.reason,
        picked_by=picked_by,
    )
