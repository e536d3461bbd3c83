"""Automation rules: their administration (each change an event of the rule's log), the log
of their runs (counters are read from it), and the lookups the engine (``flows``) needs.

Functions flush, never commit, and raise domain exceptions."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.automation import conditions, records, templates
from operational.automation.enums import ManagedBy, RecordType, RunOutcome, TriggerKind
from operational.automation.models import AutomationRule, AutomationRun
from operational.automation.schemas import RuleCreate, RuleUpdate
from operational.changes.models import Change
from operational.core.errors import Conflict, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType
from operational.notifications import service as notifications_service
from operational.notifications.exceptions import WebhookNotFound
from operational.problems import service as problems_service
from operational.sla import service as sla_service
from operational.tickets.hooks import RecordChange

SORTABLE = {
    "position": AutomationRule.position,
    "name": AutomationRule.name,
    "created_at": AutomationRule.created_at,
}
DEFAULT_SORT = (AutomationRule.position, AutomationRule.id)


@dataclass
class Counters:
    last_fired_at: datetime | None = None
    times_fired: int = 0
    failures: int = 0
    loops_cut: int = 0


def fields_of(record_type: str) -> frozenset[str]:
    return records.kind_of(record_type).fields()


# ------------------------------------------------------------------------------- lookups


def get(*, session: Session, rule_id: int) -> AutomationRule:
    rule = session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound(f"Automation rule {rule_id} does not exist")
    return rule


def list_rules(
    *,
    session: Session,
    params: PageParams,
    record_type: RecordType | None = None,
    trigger: TriggerKind | None = None,
    is_active: bool | None = None,
) -> Page[Any]:  # of AutomationRule
    statement = select(AutomationRule)
    if record_type is not None:
        statement = statement.where(AutomationRule.record_type == record_type.value)
    if trigger is not None:
        statement = statement.where(AutomationRule.trigger == trigger.value)
    if is_active is not None:
        statement = statement.where(AutomationRule.is_active == is_active)
    return paginate(session, statement, params, sortable=SORTABLE, default_sort=DEFAULT_SORT)


def rules_for(*, session: Session, record_type: str, triggers: list[str]) -> list[AutomationRule]:
    """The active rules of these triggers, in the order they run."""
    return list(
        session.scalars(
            select(AutomationRule)
            .where(
                AutomationRule.record_type == record_type,
                AutomationRule.trigger.in_(triggers),
                AutomationRule.is_active,
            )
            .order_by(*DEFAULT_SORT)
        )
    )


def due_scheduled(*, session: Session, now: datetime) -> list[AutomationRule]:
    """Active scheduled rules whose interval has passed since their last run."""
    interval = func.make_interval(0, 0, 0, 0, 0, AutomationRule.every_minutes)
    return list(
        session.scalars(
            select(AutomationRule)
            .where(
                AutomationRule.is_active,
                AutomationRule.trigger == TriggerKind.schedule.value,
                or_(
                    AutomationRule.last_scheduled_at.is_(None),
                    AutomationRule.last_scheduled_at + interval <= now,
                ),
            )
            .order_by(*DEFAULT_SORT)
        )
    )


def claim_schedule(*, session: Session, rule_id: int, now: datetime) -> AutomationRule | None:
    """Lock a due scheduled rule and mark it run at ``now``; None when another worker holds it
    or ran it meanwhile."""
    rule = session.scalar(
        select(AutomationRule).where(AutomationRule.id == rule_id).with_for_update(skip_locked=True)
    )
    if rule is None or not rule.is_active:
        return None
    session.refresh(rule)
    due = (
        rule.last_scheduled_at is None
        or rule.last_scheduled_at + timedelta(minutes=rule.every_minutes or 0) <= now
    )
    if not due:
        return None
    rule.last_scheduled_at = now
    session.flush()
    return rule


def counters(*, session: Session, rule_ids: list[int]) -> dict[int, Counters]:
    if not rule_ids:
        return {}
    fired = AutomationRun.outcome == RunOutcome.fired.value
    rows = session.execute(
        select(
            AutomationRun.rule_id,
            func.max(case((fired, AutomationRun.occurred_at))),
            func.count().filter(fired),
            func.count().filter(AutomationRun.outcome == RunOutcome.failed.value),
            func.count().filter(AutomationRun.outcome == RunOutcome.loop_cut.value),
        )
        .where(AutomationRun.rule_id.in_(rule_ids))
        .group_by(AutomationRun.rule_id)
    ).all()
    return {
        rule_id: Counters(last_fired_at=last, times_fired=times, failures=failed, loops_cut=cut)
        for rule_id, last, times, failed, cut in rows
    }


def list_runs(*, session: Session, rule: AutomationRule, params: PageParams) -> Page[Any]:
    return paginate(
        session,
        select(AutomationRun).where(AutomationRun.rule_id == rule.id),
        params,
        sortable={"occurred_at": AutomationRun.occurred_at},
        default_sort=(AutomationRun.occurred_at.desc(), AutomationRun.id.desc()),
    )


def record_run(
    *,
    session: Session,
    rule: AutomationRule,
    record_type: str,
    record_id: int,
    trigger: str,
    outcome: RunOutcome,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> AutomationRun:
    run = AutomationRun(
        rule_id=rule.id,
        record_type=record_type,
        record_id=record_id,
        trigger=trigger,
        outcome=outcome.value,
        detail=detail,
        occurred_at=now,
    )
    session.add(run)
    session.flush()
    return run


def count_run(
    *,
    session: Session,
    rule: AutomationRule,
    change: RecordChange,
    outcome: RunOutcome,
    detail: dict[str, Any] | None = None,
) -> AutomationRun:
    """Count one run of ``rule`` on the record ``change`` is about, under its trigger."""
    return record_run(
        session=session,
        rule=rule,
        record_type=change.record_type,
        record_id=change.record.id,
        trigger=change.trigger,
        outcome=outcome,
        now=change.now,
        detail=detail,
    )


# --------------------------------------------------------------------------- administration


def _check_actions(session: Session, record_type: str, actions: list[dict[str, Any]]) -> None:
    record_kind = records.kind_of(record_type)
    known = record_kind.fields()
    for index, action in enumerate(actions):
        where = f"actions[{index}]"
        kind = action["type"]
        if not record_kind.applies(kind):
            raise UnprocessableEntity(
                f"{where}: the {kind} action does not apply to {record_type} records: "
                f"{record_kind.refusals.get(kind, 'its domain cannot do it')}",
                field=where,
                action=kind,
                record_type=record_type,
            )
        if kind == "notify":
            _check_people_fields(record_kind, action, where)
        if kind == "set_fields":
            names = list(action["fields"])
            unknown = conditions.unknown_fields(names, known)
            if unknown:
                raise UnprocessableEntity(
                    f"{where}: {record_type}s have no field {', '.join(unknown)}",
                    field=where,
                    unknown=unknown,
                )
            builtin = {name: value for name, value in action["fields"].items() if "." not in name}
            try:
                record_kind.update_schema.model_validate(builtin)
            except ValidationError as exc:
                raise UnprocessableEntity(
                    f"{where}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}", field=where
                ) from exc
        if kind in ("comment", "notify", "webhook"):
            templates.check(action["template"], where=where)
        for team_id in [action.get("team_id"), *action.get("team_ids", ())]:
            if (
                team_id is not None
                and auth_service.get_team(session=session, team_id=team_id) is None
            ):
                raise UnprocessableEntity(f"{where}: unknown team {team_id}", field=where)
        for user_id in [action.get("assignee_id"), *action.get("user_ids", ())]:
            if (
                user_id is not None
                and auth_service.get_user(session=session, user_id=user_id) is None
            ):
                raise UnprocessableEntity(f"{where}: unknown user {user_id}", field=where)
        if kind == "link_problem":
            try:
                problems_service.get(session=session, problem_id=action["problem_id"])
            except NotFound as exc:
                raise UnprocessableEntity(f"{where}: {exc.detail}", field=where) from exc
        if kind == "link_change" and session.get(Change, action["change_id"]) is None:
            raise UnprocessableEntity(f"{where}: unknown change {action['change_id']}", field=where)
        if kind == "webhook":
            try:
                notifications_service.get_webhook(session=session, webhook_id=action["webhook_id"])
            except WebhookNotFound as exc:
                raise UnprocessableEntity(
                    f"{where}: unknown webhook {action['webhook_id']}", field=where
                ) from exc


def _check_people_fields(kind: records.RecordKind, action: dict[str, Any], where: str) -> None:
    """A notify naming a person the record type does not have would reach nobody: refused."""
    for flag, name in (
        ("to_assignee", kind.assignee_field),
        ("to_team", kind.team_field),
        ("to_requester", kind.requester_field),
    ):
        if action.get(flag) and name is None:
            raise UnprocessableEntity(
                f"{where}: {kind.record_type} records have no one for {flag}", field=where
            )


def _check_trigger(record_type: str, trigger: str) -> None:
    if trigger not in records.kind_of(record_type).triggers:
        raise UnprocessableEntity(
            f"trigger: {trigger} never fires for {record_type} records",
            field="trigger",
            trigger=trigger,
            record_type=record_type,
        )


def _check_route(trigger: str, actions: list[dict[str, Any]]) -> None:
    """A route rule does one thing: assign to a team (the first that matches wins)."""
    if trigger != TriggerKind.route:
        return
    if len(actions) != 1 or actions[0]["type"] != "assign" or actions[0].get("team_id") is None:
        raise UnprocessableEntity(
            "actions: a route rule has exactly one action, an assign naming a team_id",
            field="actions",
        )


def ensure_not_managed(rule: AutomationRule) -> None:
    """The automation API leaves a rule that another API owns to that API."""
    if rule.managed_by == ManagedBy.assignment_rules:
        raise Conflict(
            f"Rule {rule.id} is an assignment rule: change it through "
            f"/api/v1/assignment-rules/{rule.id}",
            rule_id=rule.id,
            managed_by=rule.managed_by,
        )


def _check_conditions(
    session: Session, record_type: str, trigger: str, condition: dict[str, Any] | None
) -> None:
    known = fields_of(record_type)
    if trigger == TriggerKind.commented:
        known |= conditions.COMMENT_FIELDS
    unknown = conditions.unknown_fields(list(conditions.names_in(condition)), known)
    if unknown:
        raise UnprocessableEntity(
            f"conditions: {record_type}s have no field {', '.join(unknown)}",
            field="conditions",
            unknown=unknown,
        )
    for calendar_id in _calendar_ids(condition):
        try:
            sla_service.get_calendar(session=session, calendar_id=calendar_id)
        except NotFound as exc:
            raise UnprocessableEntity(f"conditions: {exc.detail}", field="conditions") from exc


def _calendar_ids(condition: dict[str, Any] | None) -> list[int]:
    if not condition:
        return []
    found = [condition["calendar_id"]] if condition.get("calendar_id") is not None else []
    for key in ("all", "any"):
        for part in condition.get(key, ()):
            found += _calendar_ids(part)
    if "not" in condition:
        found += _calendar_ids(condition["not"])
    return found


def _check_name(session: Session, name: str, rule_id: int | None) -> None:
    clash = session.scalar(
        select(AutomationRule.id).where(
            func.lower(AutomationRule.name) == name.lower(), AutomationRule.id != (rule_id or 0)
        )
    )
    if clash is not None:
        raise Conflict(f"An automation rule named {name!r} already exists", rule_id=clash)


def _json(value: Any) -> Any:
    """A condition or action model as stored: only what was given, aliases as written."""
    if value is None:
        return None
    return value.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _record(
    session: Session,
    rule: AutomationRule,
    actor: User | None,
    before: dict[str, Any] | None,
    deleted: bool = False,
) -> None:
    events.record_change(
        session=session,
        entity_type=EntityType.automation_rule,
        entity_id=rule.id,
        actor=actor,
        before=before,
        after=None if deleted else events.snapshot(rule, skip=("last_scheduled_at",)),
        label=rule.name,
    )


def create(
    *, session: Session, data: RuleCreate, actor: User, managed_by: ManagedBy | None = None
) -> AutomationRule:
    _check_name(session, data.name, None)
    condition = _json(data.conditions)
    actions = [_json(action) for action in data.actions]
    _check_trigger(data.record_type, data.trigger)
    _check_route(data.trigger, actions)
    _check_conditions(session, data.record_type, data.trigger, condition)
    _check_actions(session, data.record_type, actions)
    rule = AutomationRule(
        name=data.name,
        description=data.description,
        record_type=data.record_type.value,
        position=data.position,
        is_active=data.is_active,
        trigger=data.trigger.value,
        every_minutes=data.every_minutes,
        conditions=condition,
        actions=actions,
        stop_processing=data.stop_processing,
        managed_by=managed_by.value if managed_by is not None else None,
        created_by_id=actor.id,
    )
    session.add(rule)
    session.flush()
    _record(session, rule, actor, None)
    return rule


def update(
    *, session: Session, rule: AutomationRule, data: RuleUpdate, actor: User, now: datetime
) -> AutomationRule:
    before = events.snapshot(rule, skip=("last_scheduled_at",))
    given = data.model_fields_set
    if "name" in given and data.name is not None:
        _check_name(session, data.name, rule.id)
        rule.name = data.name
    for name in ("description", "position", "is_active", "stop_processing"):
        if name in given and (getattr(data, name) is not None or name == "description"):
            setattr(rule, name, getattr(data, name))
    if "trigger" in given and data.trigger is not None:
        rule.trigger = data.trigger.value
    if "every_minutes" in given:
        rule.every_minutes = data.every_minutes
    if rule.trigger != TriggerKind.schedule:
        rule.every_minutes = None
    elif rule.every_minutes is None:
        raise UnprocessableEntity("A scheduled rule needs every_minutes", field="every_minutes")
    if "conditions" in given:
        rule.conditions = _json(data.conditions)
    if "actions" in given and data.actions is not None:
        rule.actions = [_json(action) for action in data.actions]
    _check_trigger(rule.record_type, rule.trigger)
    _check_route(rule.trigger, rule.actions)
    _check_conditions(session, rule.record_type, rule.trigger, rule.conditions)
    _check_actions(session, rule.record_type, rule.actions)
    rule.updated_at = now
    session.flush()
    _record(session, rule, actor, before)
    return rule


def delete(*, session: Session, rule: AutomationRule, actor: User) -> None:
    before = events.snapshot(rule, skip=("last_scheduled_at",))
    _record(session, rule, actor, before, deleted=True)
    session.delete(rule)
    session.flush()
