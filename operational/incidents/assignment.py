"""Auto-assignment: which team (assignment rules) and, within the team, which member.

Rules are tried in (position, id) order; the first active rule whose every given criterion
matches wins. Within the team, the team's strategy picks among members who are active, marked
available and allowed to work incidents:

- round_robin: the member whose last assignment in this team is oldest (never assigned first);
- least_loaded: the member with the fewest open incidents assigned to them (any team), ties
  broken like round_robin.
"""

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth.models import Team, TeamMember, User
from operational.auth.permissions import permissions_for
from operational.core.errors import Conflict, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.incidents.enums import OPEN_STATES, AssignmentStrategy
from operational.incidents.models import AssignmentRule, Incident
from operational.incidents.schemas import AssignmentRuleCreate, AssignmentRuleUpdate

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


def is_member(*, session: Session, team_id: int, user_id: int) -> bool:
    return session.get(TeamMember, (team_id, user_id)) is not None


def candidates(*, session: Session, team: Team) -> list[TeamMember]:
    """Members who may receive work now, locked so that concurrent picks do not collide."""
    members = session.scalars(
        select(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.is_available)
        .order_by(TeamMember.user_id)
        .with_for_update()
    ).all()
    return [member for member in members if can_work_incidents(member.user)]


def open_load(*, session: Session, user_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(Incident.assignee_id, func.count())
        .where(Incident.assignee_id.in_(user_ids), Incident.state.in_(list(OPEN_STATES)))
        .group_by(Incident.assignee_id)
    ).all()
    return {user_id: count for user_id, count in rows}


def pick_member(*, session: Session, team: Team) -> User | None:
    """The member the team's strategy gives the next incident to, or None when nobody can."""
    members = candidates(session=session, team=team)
    if not members:
        return None

    def rotation(member: TeamMember) -> tuple[datetime, int]:
        return (member.last_assigned_at or _NEVER, member.user_id)

    if team.assignment_strategy == AssignmentStrategy.least_loaded:
        load = open_load(session=session, user_ids=[member.user_id for member in members])
        chosen = min(members, key=lambda member: (load.get(member.user_id, 0), *rotation(member)))
    else:
        chosen = min(members, key=rotation)
    return chosen.user


def note_assignment(*, session: Session, team_id: int, user_id: int, now: datetime) -> None:
    """Move the member to the back of the team's rotation."""
    member = session.get(TeamMember, (team_id, user_id))
    if member is not None:
        member.last_assigned_at = now


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
    if session.get(Team, team_id) is None:
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


def create_rule(*, session: Session, data: AssignmentRuleCreate) -> AssignmentRule:
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
    return rule


def update_rule(
    *, session: Session, rule: AssignmentRule, data: AssignmentRuleUpdate
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
    for name, value in changes.items():
        setattr(rule, name, value)
    session.flush()
    session.refresh(rule)
    return rule


def delete_rule(*, session: Session, rule: AssignmentRule) -> None:
    session.delete(rule)
    session.flush()
