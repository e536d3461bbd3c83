"""Auto-assignment: which team (assignment rules) and, within the team, which member.

Rules are tried in (position, id) order; the first active rule whose every given criterion
matches wins. Within the team, the team's strategy picks among members who are active, marked
available and allowed to work incidents:

- round_robin: the member whose last assignment in this team is oldest (never assigned first);
- least_loaded: the member with the fewest open incidents assigned to them (any team), ties
  broken like round_robin.

It also applies an assignment to an incident (``apply``, and the public ``assign`` and
``auto_assign`` that the incident flows call), recording it as the incident service records
every change (``operational.incidents.recording``).
"""

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import Team, TeamMember, User
from operational.auth.permissions import permissions_for
from operational.core.errors import BadRequest, Conflict, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.incidents.enums import OPEN_STATES, AssignmentStrategy, IncidentState
from operational.incidents.exceptions import AssigneeNotInTeam
from operational.incidents.models import AssignmentRule, Incident
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
from operational.incidents.schemas import AssignmentRuleCreate, AssignmentRuleUpdate, IncidentUpdate

WORK_PERMISSION = "incident:write"
_NEVER = datetime.min.replace(tzinfo=UTC)


def _same(left: str | None, right: str | None) -> bool:
    return (left or "").strip().casefold() == (right or "").strip().casefold()


def _mentions(text: str, keyword: str) -> bool:
    pattern = rf"(?<!\w){re.escape(keyword.strip())}(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def rule_matches(rule: AssignmentRule, incident: Incident) -> bool:
    if rule.category and not _same(rule.category, incident.category):
        return False
    if rule.service and not _same(rule.service, incident.service):
        return False
    keywords = [keyword for keyword in rule.keywords or [] if keyword.strip()]
    if keywords:
        text = f"{incident.title}\n{incident.description or ''}"
        if not any(_mentions(text, keyword) for keyword in keywords):
            return False
    return True


def matching_rule(*, session: Session, incident: Incident) -> AssignmentRule | None:
    rules = session.scalars(
        select(AssignmentRule)
        .join(Team, Team.id == AssignmentRule.team_id)
        .where(AssignmentRule.is_active, Team.is_active)
        .order_by(AssignmentRule.position, AssignmentRule.id)
    ).all()
    return next((rule for rule in rules if rule_matches(rule, incident)), None)


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


# ------------------------------------------------------------------------- rule administration

RULE_SORTABLE = {
    "position": AssignmentRule.position,
    "name": AssignmentRule.name,
    "created_at": AssignmentRule.created_at,
}
RULE_DEFAULT_SORT = (AssignmentRule.position, AssignmentRule.id)


def list_rules(*, session: Session, params: PageParams) -> Page[Any]:  # of AssignmentRule
    return paginate(
        session,
        select(AssignmentRule),
        params,
        sortable=RULE_SORTABLE,
        default_sort=RULE_DEFAULT_SORT,
    )


def get_rule(*, session: Session, rule_id: int) -> AssignmentRule:
    rule = session.get(AssignmentRule, rule_id)
    if rule is None:
        raise NotFound(f"Assignment rule {rule_id} does not exist")
    return rule


def _check_rule(session: Session, *, name: str, team_id: int, rule_id: int | None) -> None:
    if auth_service.get_team(session=session, team_id=team_id) is None:
        raise UnprocessableEntity(f"Unknown team {team_id}", field="team_id")
    clash = session.scalar(
        select(AssignmentRule.id).where(
            func.lower(AssignmentRule.name) == name.lower(), AssignmentRule.id != (rule_id or 0)
        )
    )
    if clash is not None:
        raise Conflict(f"An assignment rule named {name!r} already exists", rule_id=clash)


def _clean_keywords(keywords: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for keyword in keywords:
        seen.setdefault(keyword.casefold(), keyword)
    return list(seen.values())


def _record(
    session: Session,
    rule: AssignmentRule,
    actor: User | None,
    before: dict[str, Any] | None,
    deleted: bool = False,
) -> None:
    """A rule change as an event of the rule's log, with the values before and after."""
    events.record_change(
        session=session,
        entity_type=EntityType.assignment_rule,
        entity_id=rule.id,
        actor=actor,
        before=before,
        after=None if deleted else events.snapshot(rule),
        label=rule.name,
    )


def create_rule(
    *, session: Session, data: AssignmentRuleCreate, actor: User | None = None
) -> AssignmentRule:
    _check_rule(session, name=data.name, team_id=data.team_id, rule_id=None)
    rule = AssignmentRule(
        name=data.name,
        position=data.position,
        is_active=data.is_active,
        category=data.category or None,
        service=data.service or None,
        keywords=_clean_keywords(data.keywords),
        team_id=data.team_id,
    )
    session.add(rule)
    session.flush()
    session.refresh(rule)
    _record(session, rule, actor, None)
    return rule


def update_rule(
    *,
    session: Session,
    rule: AssignmentRule,
    data: AssignmentRuleUpdate,
    actor: User | None = None,
) -> AssignmentRule:
    changes = data.model_dump(exclude_unset=True)
    _check_rule(
        session,
        name=changes.get("name", rule.name),
        team_id=changes.get("team_id", rule.team_id),
        rule_id=rule.id,
    )
    if "keywords" in changes:
        changes["keywords"] = _clean_keywords(changes["keywords"])
    for name in ("category", "service"):
        if name in changes:
            changes[name] = changes[name] or None
    before = events.snapshot(rule)
    for name, value in changes.items():
        setattr(rule, name, value)
    session.flush()
    session.refresh(rule)
    _record(session, rule, actor, before)
    return rule


def delete_rule(*, session: Session, rule: AssignmentRule, actor: User | None = None) -> None:
    before = events.snapshot(rule)
    session.delete(rule)
    session.flush()
    _record(session, rule, actor, before, deleted=True)


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
    rule: Any = None,
    picked_by: str | None = None,
) -> bool:
    """Set the team and the person exactly as given; record, count and acknowledge."""
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

    automatic = isinstance(rule, AssignmentRule)
    label = "auto-assignment" if automatic and actor is None else None
    data: dict[str, Any] = {"reason": reason, "picked_by": picked_by}
    if automatic:
        data["rule_id"] = rule.id
    elif rule is not None:  # an SLA escalation rule
        data["escalation_rule_id"] = getattr(rule, "id", None)
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
    rule: Any = None,
    auto_pick: bool = True,
    now: datetime | None = None,
) -> bool:
    """Assign to a team, a person, or both (actor None: the system, e.g. an SLA escalation);
    True when the assignment changed.

    - team only: the team's current assignee stays if they belong to it; otherwise the team's
      strategy picks an available member (``auto_pick``), or the incident waits in the queue;
    - person only: the team stays, and the person must belong to it;
    - both: exactly these.
    ``rule`` is the AssignmentRule that chose the team (data.rule_id), or an SLA escalation rule
    (data.escalation_rule_id). A system assignment outside a rule marks the incident escalated.
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
        rule=rule,
        picked_by=picked_by,
    )
    if changed:
        finish(session, incident, now)
    return changed


def apply_rules(session: Session, incident: Incident, actor: User | None, now: datetime) -> bool:
    """Route the incident by the first matching assignment rule; True when that changed it."""
    rule = matching_rule(session=session, incident=incident)
    if rule is None:
        return False
    assignee_id, picked_by = member_or_pick(session, incident, rule.team_id, auto_pick=True)
    return apply(
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
) -> tuple[AssignmentRule | None, bool]:
    """Run the assignment rules against the incident as it is now: the rule that matched, if
    any, and whether the assignment changed."""
    now = now_or(now)
    lock(session, incident)
    ensure_changeable(incident)
    rule = matching_rule(session=session, incident=incident)
    changed = rule is not None and apply_rules(session, incident, actor, now)
    if changed:
        finish(session, incident, now)
    return rule, changed


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
