"""Automation rules: admins manage them, managers read them (``automation:admin``,
``automation:read``); the dry run shows what a rule would do without doing it. The
assignment-rule API (``assignment:admin``) manages its own route rules (``assignment_rules``)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.automation import assignment_rules, flows, service
from operational.automation.dependencies import CurrentRule
from operational.automation.enums import RecordType, TriggerKind
from operational.automation.models import AutomationRule
from operational.automation.schemas import (
    AssignmentRuleCreate,
    AssignmentRulePage,
    AssignmentRuleRead,
    AssignmentRuleUpdate,
    RuleCreate,
    RulePage,
    RuleRead,
    RuleTest,
    RuleTestResult,
    RuleUpdate,
    RunPage,
)
from operational.core.db import DbSession
from operational.core.pagination import PageQuery

router = APIRouter(prefix="/automation", tags=["automation"])

AutomationAdmin = Annotated[User, require("automation:admin")]
read_access = [require("automation:read")]


def _read(rule: AutomationRule, counters: service.Counters | None) -> RuleRead:
    read = RuleRead.model_validate(rule)
    if counters is not None:
        read = read.model_copy(update=vars(counters))
    return read


def _one(session: DbSession, rule: AutomationRule) -> RuleRead:
    return _read(rule, service.counters(session=session, rule_ids=[rule.id]).get(rule.id))


@router.get("/rules", dependencies=read_access, summary="Automation rules, in the order they run")
def list_rules(
    session: DbSession,
    params: PageQuery,
    record_type: RecordType | None = None,
    trigger: TriggerKind | None = None,
    is_active: Annotated[bool | None, Query(description="Only active or inactive ones")] = None,
) -> RulePage:
    page = service.list_rules(
        session=session,
        params=params,
        record_type=record_type,
        trigger=trigger,
        is_active=is_active,
    )
    counted = service.counters(session=session, rule_ids=[rule.id for rule in page.items])
    return RulePage(
        **{
            **page.model_dump(exclude={"items"}),
            "items": [_read(rule, counted.get(rule.id)) for rule in page.items],
        }
    )


@router.post("/rules", status_code=status.HTTP_201_CREATED, summary="Add an automation rule")
def create_rule(
    user: AutomationAdmin, data: RuleCreate, session: DbSession, response: Response
) -> RuleRead:
    rule = service.create(session=session, data=data, actor=user)
    response.headers["Location"] = f"/api/v1/automation/rules/{rule.id}"
    return _one(session, rule)


@router.get("/rules/{rule_id}", dependencies=read_access, summary="One rule, with its counters")
def get_rule(rule: CurrentRule, session: DbSession) -> RuleRead:
    return _one(session, rule)


@router.patch("/rules/{rule_id}", summary="Change a rule")
def update_rule(
    user: AutomationAdmin, rule: CurrentRule, data: RuleUpdate, session: DbSession
) -> RuleRead:
    service.ensure_not_managed(rule)
    updated = service.update(
        session=session, rule=rule, data=data, actor=user, now=datetime.now(UTC)
    )
    return _one(session, updated)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a rule")
def delete_rule(user: AutomationAdmin, rule: CurrentRule, session: DbSession) -> Response:
    service.ensure_not_managed(rule)
    service.delete(session=session, rule=rule, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/rules/{rule_id}/runs",
    dependencies=read_access,
    summary="When the rule fired, failed or was cut from a chain, newest first",
)
def list_runs(rule: CurrentRule, session: DbSession, params: PageQuery) -> RunPage:
    page = service.list_runs(session=session, rule=rule, params=params)
    return RunPage.model_validate(page, from_attributes=True)


@router.post(
    "/rules/{rule_id}/test",
    dependencies=read_access,
    summary="Dry run: what the rule would do, for one record or the records it matches now",
)
def test_rule(rule: CurrentRule, data: RuleTest, session: DbSession) -> RuleTestResult:
    with session.begin_nested() as savepoint:  # nothing the evaluation touches is kept
        verdicts, examined = flows.test_rule(
            session=session,
            rule=rule,
            reference=data.record,
            changes=data.changes,
            limit=data.limit,
        )
        savepoint.rollback()
    return RuleTestResult(rule_id=rule.id, records=verdicts, examined=examined)


# ------------------------------------------------------- assignment rules (the route rules)

assignment_router = APIRouter(prefix="/assignment-rules", tags=["assignment rules"])
AssignmentAdmin = Annotated[User, require("assignment:admin")]


@assignment_router.get(
    "",
    summary="Auto-assignment rules, in the order they are tried",
    dependencies=[require("assignment:admin")],
)
def list_assignment_rules(session: DbSession, page: PageQuery) -> AssignmentRulePage:
    return assignment_rules.list_rules(session=session, params=page)


@assignment_router.post("", status_code=status.HTTP_201_CREATED)
def create_assignment_rule(
    user: AssignmentAdmin, data: AssignmentRuleCreate, session: DbSession
) -> AssignmentRuleRead:
    rule = assignment_rules.create_rule(session=session, data=data, actor=user)
    return assignment_rules.read(session, rule)


@assignment_router.get("/{rule_id}", dependencies=[require("assignment:admin")])
def get_assignment_rule(rule_id: int, session: DbSession) -> AssignmentRuleRead:
    rule = assignment_rules.get_rule(session=session, rule_id=rule_id)
    return assignment_rules.read(session, rule)


@assignment_router.patch("/{rule_id}")
def update_assignment_rule(
    user: AssignmentAdmin, rule_id: int, data: AssignmentRuleUpdate, session: DbSession
) -> AssignmentRuleRead:
    rule = assignment_rules.get_rule(session=session, rule_id=rule_id)
    updated = assignment_rules.update_rule(session=session, rule=rule, data=data, actor=user)
    return assignment_rules.read(session, updated)


@assignment_router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_assignment_rule(user: AssignmentAdmin, rule_id: int, session: DbSession) -> Response:
    rule = assignment_rules.get_rule(session=session, rule_id=rule_id)
    assignment_rules.delete_rule(session=session, rule=rule, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
