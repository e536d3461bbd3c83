"""Routing: the rules of the ``route`` trigger decide which team a new incident goes to, inside
its creation and before ``created`` fires (so the rules of ``created`` see the team), and again
on ``POST /api/v1/incidents/{id}/auto-assign``.

Unlike the other triggers, the first rule that matches wins: rules are tried by position, then
id; a rule whose team is inactive (or gone) is passed over, as is one whose assignment fails
(counted as a failure). The assignment goes through ``incidents.assignment`` exactly as the
assignment rules' always did: its events carry ``data.rule_id`` and the reason
``assignment rule '<name>'``, and ``auto-assignment`` as the actor when nobody asked for it.
Each rule that fires counts a run, so route rules have counters like any other.
"""

import logging
from typing import Any

from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import Team
from operational.automation import conditions, service
from operational.automation.enums import AssignStrategy, RecordType, RunOutcome, TriggerKind
from operational.automation.facts import facts_for
from operational.automation.models import AutomationRule
from operational.core.errors import DomainError
from operational.incidents import assignment
from operational.tickets.hooks import RecordChange, Routed

logger = logging.getLogger("operational.automation")


def route(session: Session, change: RecordChange) -> Routed | None:
    """The hook: assign the record by the first route rule that matches; None when none does."""
    if change.record_type != RecordType.incident:
        return None
    rules = service.rules_for(
        session=session, record_type=change.record_type, triggers=[TriggerKind.route]
    )
    if not rules:
        return None
    facts = facts_for(session, change)
    for rule in rules:
        action = rule.actions[0]
        team = auth_service.get_team(session=session, team_id=action["team_id"])
        if team is None or not team.is_active:
            continue
        if not conditions.holds(rule.conditions, facts):
            continue
        try:
            with session.begin_nested():
                changed = _assign(session, change, rule, team, action)
        except DomainError as exc:
            logger.info("route rule %s failed on %s: %s", rule.id, change.record.id, exc.detail)
            service.count_run(
                session=session,
                rule=rule,
                change=change,
                outcome=RunOutcome.failed,
                detail={"error": exc.detail},
            )
            continue
        service.count_run(session=session, rule=rule, change=change, outcome=RunOutcome.fired)
        return Routed(rule=rule, changed=changed)
    return None


def _assign(
    session: Session,
    change: RecordChange,
    rule: AutomationRule,
    team: Team,
    action: dict[str, Any],
) -> bool:
    incident = change.record
    strategy = action.get("strategy", AssignStrategy.team)
    picked_by = None
    if action.get("assignee_id") is not None:
        assignee_id = action["assignee_id"]
    elif strategy == AssignStrategy.team:
        assignee_id, picked_by = assignment.member_or_pick(
            session, incident, team.id, auto_pick=True
        )
    else:
        member = assignment.pick_member(session=session, team=team, strategy=strategy)
        assignee_id, picked_by = (member.id, strategy) if member else (None, None)
    return assignment.apply(
        session,
        incident,
        change.actor,
        change.now,
        team_id=team.id,
        assignee_id=assignee_id,
        rule_id=rule.id,
        picked_by=picked_by,
        reason=f"assignment rule {rule.name!r}",
    )
