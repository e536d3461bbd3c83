"""The assignment-rule API (``/api/v1/assignment-rules``), kept as it was, over route rules.

An assignment rule is an automation rule of the ``route`` trigger that this API owns
(``managed_by = assignment_rules``): its criteria become conditions and its team one ``assign``
action, so it runs in the engine (``routing``) with counters, runs and the dry run like any
rule, and the automation API shows it but leaves its changes to this one. The translation is
one to one and both ways:

    category  -> {"field": "category", "op": "eq", "value": ...}      (case-insensitive)
    service   -> {"field": "service", "op": "eq", "value": ...}
    keywords  -> {"any": [{"field": "title", "op": "mentions", "value": [...]},
                          {"field": "description", "op": "mentions", "value": [...]}]}
    team_id   -> [{"type": "assign", "team_id": ..., "strategy": "team"}]

all of them under one ``all``; a rule without criteria has no conditions (it matches every
incident). Migration 0028 moved the rules of the old ``assignment_rules`` table here.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import Team, User
from operational.automation import service
from operational.automation.enums import ManagedBy, RecordType, TriggerKind
from operational.automation.models import AutomationRule
from operational.automation.schemas import (
    AssignmentRuleCreate,
    AssignmentRuleRead,
    AssignmentRuleUpdate,
    RuleCreate,
    RuleUpdate,
)
from operational.core.errors import Conflict, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate

SORTABLE = {
    "position": AutomationRule.position,
    "name": AutomationRule.name,
    "created_at": AutomationRule.created_at,
}
DEFAULT_SORT = (AutomationRule.position, AutomationRule.id)
_TEXT_FIELDS = ("title", "description")


# ------------------------------------------------------------------------------- translating


def conditions_for(
    *, category: str | None, service: str | None, keywords: list[str]
) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    if category:
        parts.append({"field": "category", "op": "eq", "value": category})
    if service:
        parts.append({"field": "service", "op": "eq", "value": service})
    if keywords:
        parts.append(
            {"any": [{"field": name, "op": "mentions", "value": keywords} for name in _TEXT_FIELDS]}
        )
    return {"all": parts} if parts else None


def actions_for(team_id: int) -> list[dict[str, Any]]:
    return [{"type": "assign", "team_id": team_id, "strategy": "team"}]


def criteria_of(rule: AutomationRule) -> dict[str, Any]:
    """The rule's category, service, keywords and team, read back from what ``conditions_for``
    and ``actions_for`` wrote."""
    criteria: dict[str, Any] = {"category": None, "service": None, "keywords": []}
    for part in (rule.conditions or {}).get("all", []):
        if part.get("field") in ("category", "service"):
            criteria[part["field"]] = part["value"]
        elif "any" in part:
            criteria["keywords"] = list(part["any"][0]["value"])
    criteria["team_id"] = rule.actions[0]["team_id"]
    return criteria


def _clean_keywords(keywords: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for keyword in keywords:
        seen.setdefault(keyword.casefold(), keyword)
    return list(seen.values())


def read(session: Session, rule: AutomationRule, teams: dict[int, Team] | None = None) -> Any:
    criteria = criteria_of(rule)
    team_id = criteria.pop("team_id")
    team = (teams or {}).get(team_id) or auth_service.get_team(session=session, team_id=team_id)
    return AssignmentRuleRead.model_validate(
        {
            "id": rule.id,
            "name": rule.name,
            "position": rule.position,
            "is_active": rule.is_active,
            **criteria,
            "team": team,
            "created_at": rule.created_at,
            "updated_at": rule.updated_at,
        }
    )


# ------------------------------------------------------------------------------- the API


def _managed() -> Any:
    return select(AutomationRule).where(
        AutomationRule.managed_by == ManagedBy.assignment_rules.value
    )


def list_rules(*, session: Session, params: PageParams) -> Page[Any]:
    page = paginate(session, _managed(), params, sortable=SORTABLE, default_sort=DEFAULT_SORT)
    team_ids = {rule.actions[0]["team_id"] for rule in page.items}
    teams = {team.id: team for team in session.scalars(select(Team).where(Team.id.in_(team_ids)))}
    return page.map(lambda rule: read(session, rule, teams))


def get_rule(*, session: Session, rule_id: int) -> AutomationRule:
    rule = session.scalar(_managed().where(AutomationRule.id == rule_id))
    if rule is None:
        raise NotFound(f"Assignment rule {rule_id} does not exist")
    return rule


def _check(session: Session, *, name: str, team_id: int, rule_id: int | None) -> None:
    if auth_service.get_team(session=session, team_id=team_id) is None:
        raise UnprocessableEntity(f"Unknown team {team_id}", field="team_id")
    clash = session.scalar(
        select(AutomationRule.id).where(
            func.lower(AutomationRule.name) == name.lower(), AutomationRule.id != (rule_id or 0)
        )
    )
    if clash is not None:
        raise Conflict(f"An assignment or automation rule named {name!r} exists", rule_id=clash)


def create_rule(*, session: Session, data: AssignmentRuleCreate, actor: User) -> AutomationRule:
    _check(session, name=data.name, team_id=data.team_id, rule_id=None)
    rule = RuleCreate.model_validate(
        {
            "name": data.name,
            "record_type": RecordType.incident,
            "position": data.position,
            "is_active": data.is_active,
            "trigger": TriggerKind.route,
            "conditions": conditions_for(
                category=data.category or None,
                service=data.service or None,
                keywords=_clean_keywords(data.keywords),
            ),
            "actions": actions_for(data.team_id),
        }
    )
    return service.create(
        session=session, data=rule, actor=actor, managed_by=ManagedBy.assignment_rules
    )


def update_rule(
    *, session: Session, rule: AutomationRule, data: AssignmentRuleUpdate, actor: User
) -> AutomationRule:
    given = data.model_dump(exclude_unset=True)
    criteria = {**criteria_of(rule), **given}
    _check(
        session,
        name=criteria.get("name", rule.name),
        team_id=criteria["team_id"],
        rule_id=rule.id,
    )
    changes: dict[str, Any] = {
        name: given[name] for name in ("name", "position", "is_active") if name in given
    }
    if given.keys() & {"category", "service", "keywords"}:
        changes["conditions"] = conditions_for(
            category=criteria["category"] or None,
            service=criteria["service"] or None,
            keywords=_clean_keywords(criteria["keywords"]),
        )
    if "team_id" in given:
        changes["actions"] = actions_for(criteria["team_id"])
    return service.update(
        session=session,
        rule=rule,
        data=RuleUpdate.model_validate(changes),
        actor=actor,
        now=datetime.now(UTC),
    )


def delete_rule(*, session: Session, rule: AutomationRule, actor: User) -> None:
    service.delete(session=session, rule=rule, actor=actor)
