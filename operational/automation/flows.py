"""The rule engine: above incidents, changes, requests and problems, it runs the rules a change
to a record triggers, in the same transaction, through those domains' own flows.

    incidents / changes / requests / problems .flows ──publish──> tickets.hooks
        ──> automation.flows (installed at start-up by main.py and worker.py)
    automation.flows ──> the same domains' flows (``WRITERS``), notifications.service

What differs between record types is in one place: ``records.KINDS`` (reading: model, fields,
lookups, open records, people, the actions that apply) and ``WRITERS`` below (writing through
the domain's flows).

The ticket flows never import this package: they publish a ``RecordChange`` to the hook
registry in ``operational.tickets`` (a low package), and the application installs
``on_record_change`` there. So the packages keep one direction, and a rule's actions may call
the same flows that triggered it (which publish again: that is how rules chain).

Order and safety: rules run by position, then id. Each rule's actions run in a savepoint: an
action that fails undoes that rule's actions only (the triggering change stands) and counts a
failure. A rule never runs inside its own chain (it never triggers itself, directly or
through other rules); a chain deeper than ``MAX_CHAIN_DEPTH`` is cut there, with an
``automation_loop_cut`` event on the record and a ``loop_cut`` run counted on the rule. Every
event a rule's actions append names it (actor_label ``rule: <name>``, data.rule_id).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.automation import conditions, records, routing, service, templates
from operational.automation.conditions import CUSTOM_PREFIX
from operational.automation.enums import AssignStrategy, RecordType, RunOutcome, TriggerKind
from operational.automation.facts import facts_for
from operational.automation.models import AutomationRule
from operational.automation.records import RecordKind
from operational.automation.schemas import PlannedAction, RecordVerdict
from operational.changes import flows as change_flows
from operational.changes.schemas import ChangeUpdate
from operational.core.config import get_settings
from operational.core.db import session_scope
from operational.core.errors import DomainError, UnprocessableEntity
from operational.events import service as events
from operational.events.enums import EventKind
from operational.incidents import assignment
from operational.incidents import flows as incident_flows
from operational.incidents.schemas import IncidentUpdate
from operational.notifications import service as notifications_service
from operational.notifications.enums import EventType
from operational.problems import flows as problem_flows
from operational.problems import service as problem_service
from operational.problems.schemas import ProblemUpdate
from operational.requests import flows as request_flows
from operational.requests.schemas import RequestUpdate
from operational.tickets import hooks
from operational.tickets.hooks import RecordChange, Trigger

logger = logging.getLogger("operational.automation")

# How deep rules may trigger rules: a change, a rule it fires, a rule that one fires, ...
MAX_CHAIN_DEPTH = 3
_CHAIN = "automation.chain"  # session.info: the ids of the rules running, outermost first


def install() -> None:
    """Make the ticket flows run the rules, and route new incidents by the route rules
    (idempotent)."""
    hooks.install(on_record_change, router=routing.route)


def _triggers(change: RecordChange) -> list[str]:
    if change.trigger == Trigger.updated:
        return (
            [TriggerKind.updated, TriggerKind.state_changed]
            if "state" in change.changes
            else [TriggerKind.updated]
        )
    return [change.trigger]


def _applies(rule: AutomationRule, change: RecordChange) -> bool:
    if rule.trigger == TriggerKind.state_changed:
        return "state" in change.changes
    return rule.trigger == change.trigger


def on_record_change(session: Session, change: RecordChange) -> None:
    """The hook: run the rules this change triggers."""
    rules = service.rules_for(
        session=session, record_type=change.record_type, triggers=_triggers(change)
    )
    if rules:
        run_rules(session=session, rules=rules, change=change)


def _label(record: Any) -> str:
    return getattr(record, "number", None) or str(record.id)


# ---------------------------------------------------------------------------------- running


def run_rules(*, session: Session, rules: list[AutomationRule], change: RecordChange) -> int:
    """Run ``rules`` (in order) on the change; returns how many fired."""
    chain: list[int] = session.info.setdefault(_CHAIN, [])
    facts = facts_for(session, change)
    fired = 0
    for rule in rules:
        if rule.id in chain or not _applies(rule, change):
            continue
        if not conditions.holds(rule.conditions, facts):
            continue
        if len(chain) >= MAX_CHAIN_DEPTH:
            _cut(session, rule, change, chain)
            continue
        outcome, stop = _fire(session, rule, change, chain)
        fired += outcome == RunOutcome.fired
        if stop:
            break
    return fired


def _cut(session: Session, rule: AutomationRule, change: RecordChange, chain: list[int]) -> None:
    logger.warning(
        "automation chain cut at depth %s: rule %s on %s %s (chain %s)",
        len(chain),
        rule.id,
        change.record_type,
        change.record.id,
        chain,
    )
    events.append(
        session=session,
        entity_type=change.record_type,
        entity_id=change.record.id,
        kind=EventKind.automation_loop_cut,
        actor=None,
        actor_label=f"rule: {rule.name}",
        new_value=rule.name,
        data={"rule_id": rule.id, "chain": list(chain), "max_depth": MAX_CHAIN_DEPTH},
        occurred_at=change.now,
    )
    service.count_run(
        session=session,
        rule=rule,
        change=change,
        outcome=RunOutcome.loop_cut,
        detail={"chain": list(chain)},
    )


def _fire(
    session: Session, rule: AutomationRule, change: RecordChange, chain: list[int]
) -> tuple[RunOutcome, bool]:
    """Run the rule's actions in a savepoint; returns the outcome and whether to stop."""
    rule_id, rule_name = rule.id, rule.name
    chain.append(rule_id)
    stop = False
    try:
        label = f"rule: {rule_name}"
        with (
            session.begin_nested(),
            events.attributed(session, label=label, data={"rule_id": rule_id}),
        ):
            for action in rule.actions:
                if _act(session, rule_name, action, change):
                    stop = True
                    break
    except (DomainError, ValidationError) as exc:
        detail = exc.detail if isinstance(exc, DomainError) else str(exc)
        logger.info("automation rule %s failed on %s: %s", rule_id, change.record.id, detail)
        service.count_run(
            session=session,
            rule=rule,
            change=change,
            outcome=RunOutcome.failed,
            detail={"error": detail},
        )
        return RunOutcome.failed, False
    finally:
        chain.pop()
    service.count_run(session=session, rule=rule, change=change, outcome=RunOutcome.fired)
    return RunOutcome.fired, stop or rule.stop_processing


# ---------------------------------------------------------------------------------- writers


@dataclass(frozen=True)
class Writer:
    """How a rule's actions write a record of one type: always through the domain's own flow
    (its workflow, validation, events, SLA timers, and its hooks, so that rules chain). None:
    the action does not apply to the type (``records.RecordKind.actions`` says the same, and the
    rule API refuses such a rule)."""

    # (session, record, values: built-in fields and ``custom_fields``, now)
    update: Callable[[Session, Any, dict[str, Any], datetime], None]
    # (session, record, team_id, assignee_id, reason, now)
    assign: Callable[[Session, Any, int | None, int | None, str, datetime], None] | None = None
    # (session, record, body, public, now)
    comment: Callable[[Session, Any, str, bool, datetime], None] | None = None
    # (session, record, problem_id / change_id, now)
    link_problem: Callable[[Session, Any, int, datetime], None] | None = None
    link_change: Callable[[Session, Any, int, datetime], None] | None = None


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _update_incident(session: Session, record: Any, values: dict[str, Any], now: datetime) -> None:
    incident_flows.update(
        session=session,
        incident=record,
        data=IncidentUpdate.model_validate(values),
        actor=None,
        expected_version=record.version,  # the rule acts on the record as it is now
        now=now,
    )


def _assign_incident(
    session: Session,
    record: Any,
    team_id: int | None,
    assignee_id: int | None,
    reason: str,
    now: datetime,
) -> None:
    incident_flows.assign(
        session=session,
        incident=record,
        actor=None,
        team_id=team_id,
        assignee_id=assignee_id,
        reason=reason,
        now=now,
    )


def _comment_incident(
    session: Session, record: Any, body: str, public: bool, now: datetime
) -> None:
    incident_flows.add_comment(
        session=session, incident=record, actor=None, body=body, is_public=public, now=now
    )


def _link_incident_to_problem(
    session: Session, record: Any, problem_id: int, now: datetime
) -> None:
    problem_flows.link_incident(
        session=session,
        problem=problem_service.get(session=session, problem_id=problem_id),
        incident_id=record.id,
        actor=None,
        now=now,
    )


def _link_incident_to_change(session: Session, record: Any, change_id: int, now: datetime) -> None:
    change_flows.link_caused_incident(
        session=session, change_id=change_id, incident_id=record.id, actor=None
    )


def _update_change(session: Session, record: Any, values: dict[str, Any], now: datetime) -> None:
    change_flows.update(
        session=session,
        change=record,
        data=ChangeUpdate.model_validate(values),
        expected_version=record.version,
        actor=None,
    )


def _assign_change(
    session: Session,
    record: Any,
    team_id: int | None,
    assignee_id: int | None,
    reason: str,
    now: datetime,
) -> None:
    values = _given(assignment_group_id=team_id, implementer_id=assignee_id)
    _update_change(session, record, values, now)


def _update_problem(session: Session, record: Any, values: dict[str, Any], now: datetime) -> None:
    problem_flows.update(
        session=session,
        problem=record,
        data=ProblemUpdate.model_validate(values),
        expected_version=record.version,
        actor=None,
        now=now,
    )


def _assign_problem(
    session: Session,
    record: Any,
    team_id: int | None,
    assignee_id: int | None,
    reason: str,
    now: datetime,
) -> None:
    _update_problem(session, record, _given(assignment_group_id=team_id, owner_id=assignee_id), now)


def _link_problem_to_change(session: Session, record: Any, change_id: int, now: datetime) -> None:
    _update_problem(session, record, {"caused_by_change_id": change_id}, now)


def _update_request(session: Session, record: Any, values: dict[str, Any], now: datetime) -> None:
    request_flows.update(
        session=session,
        request=record,
        data=RequestUpdate.model_validate(values),
        expected_version=record.version,
        actor=None,
        now=now,
    )


WRITERS: dict[str, Writer] = {
    RecordType.incident: Writer(
        update=_update_incident,
        assign=_assign_incident,
        comment=_comment_incident,
        link_problem=_link_incident_to_problem,
        link_change=_link_incident_to_change,
    ),
    RecordType.change: Writer(update=_update_change, assign=_assign_change),
    RecordType.problem: Writer(
        update=_update_problem, assign=_assign_problem, link_change=_link_problem_to_change
    ),
    RecordType.request: Writer(update=_update_request),
}


# ---------------------------------------------------------------------------------- actions


def _render(template: str, rule_name: str, change: RecordChange) -> str:
    return templates.render(
        template,
        templates.context(
            record=change.record,
            fields=service.fields_of(change.record_type),
            rule_name=rule_name,
            changes=change.changes,
        ),
    )


def _writer(change: RecordChange, action: str) -> Callable[..., None]:
    """The record type's writer for the action; a rule saved before the action stopped applying
    fails (the API refuses such rules: this is the backstop)."""
    found = getattr(WRITERS[change.record_type], action)
    if found is None:
        raise UnprocessableEntity(f"{action} does not apply to {change.record_type} records")
    return found


def _set_fields(session: Session, change: RecordChange, fields: dict[str, Any]) -> None:
    """One update of the record through its own flow: built-in fields as themselves and
    ``cf.<name>`` as its ``custom_fields`` (validated by the custom fields' rules there)."""
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, value in fields.items():
        if name.startswith(CUSTOM_PREFIX):
            custom[name[len(CUSTOM_PREFIX) :]] = value
        else:
            values[name] = value
    if custom:
        values["custom_fields"] = custom
    if values:
        WRITERS[change.record_type].update(session, change.record, values, change.now)


def _assignee_for(session: Session, action: dict[str, Any]) -> int | None:
    """The person a team assignment goes to under the action's strategy (None: the team's own
    strategy decides, in the incident domain; the team alone elsewhere)."""
    if action.get("assignee_id") is not None or action.get("team_id") is None:
        return action.get("assignee_id")
    if action.get("strategy", AssignStrategy.team) == AssignStrategy.team:
        return None
    team = auth_service.get_team(session=session, team_id=action["team_id"])
    if team is None:
        raise UnprocessableEntity(f"Unknown team {action['team_id']}")
    member = assignment.pick_member(session=session, team=team, strategy=action["strategy"])
    return member.id if member else None


def _recipients(
    action: dict[str, Any], kind: RecordKind, record: Any
) -> tuple[list[int], list[int]]:
    users = list(action.get("user_ids", ()))
    teams = list(action.get("team_ids", ()))
    for flag, name, into in (
        ("to_assignee", kind.assignee_field, users),
        ("to_requester", kind.requester_field, users),
        ("to_team", kind.team_field, teams),
    ):
        if action.get(flag) and name and getattr(record, name, None):
            into.append(getattr(record, name))
    return users, teams


def _notice_context(change: RecordChange, rule_name: str, message: str) -> dict[str, Any]:
    record = change.record
    path = records.kind_of(change.record_type).api_path
    return {
        "ticket_number": _label(record),
        "ticket_title": getattr(record, "title", "") or "",
        "ticket_url": f"{get_settings().api_base_url}/api/v1/{path}/{record.id}",
        "priority": getattr(record, "priority", None),
        "state": getattr(record, "state", None),
        "message": message,
        "rule_name": rule_name,
    }


def _note(session: Session, change: RecordChange, **data: Any) -> None:
    """A notify or webhook action as an event of the record (the attribution names the rule)."""
    events.append(
        session=session,
        entity_type=change.record_type,
        entity_id=change.record.id,
        kind=EventKind.notified,
        actor=None,
        data={"reason": "automation", **data},
        occurred_at=change.now,
    )


def _act(session: Session, rule_name: str, action: dict[str, Any], change: RecordChange) -> bool:
    """One action; True for stop."""
    kind = action["type"]
    record = change.record
    if kind == "stop":
        return True
    if kind == "set_fields":
        _set_fields(session, change, action["fields"])
    elif kind == "assign":
        _writer(change, "assign")(
            session,
            record,
            action.get("team_id"),
            _assignee_for(session, action),
            f"automation rule {rule_name}",
            change.now,
        )
    elif kind == "comment":
        _writer(change, "comment")(
            session,
            record,
            _render(action["template"], rule_name, change),
            action.get("public", False),
            change.now,
        )
    elif kind == "notify":
        users, teams = _recipients(action, records.kind_of(change.record_type), record)
        message = _render(action["template"], rule_name, change)
        notifications_service.enqueue(
            session=session,
            event_type=EventType.automation_notice,
            recipients=users,
            teams=teams,
            context=_notice_context(change, rule_name, message),
            webhooks=False,
            now=change.now,
        )
        _note(session, change, action="notify", user_ids=users, team_ids=teams)
    elif kind == "webhook":
        message = _render(action["template"], rule_name, change)
        sent = notifications_service.enqueue(
            session=session,
            event_type=EventType.automation_notice,
            context=_notice_context(change, rule_name, message),
            webhook_ids=[action["webhook_id"]],
            now=change.now,
        )
        if not sent:
            raise UnprocessableEntity(f"Webhook {action['webhook_id']} is gone or inactive")
        _note(session, change, action="webhook", webhook_id=action["webhook_id"])
    elif kind == "link_problem":
        _writer(change, "link_problem")(session, record, action["problem_id"], change.now)
    elif kind == "link_change":
        _writer(change, "link_change")(session, record, action["change_id"], change.now)
    return False


# ---------------------------------------------------------------------------------- dry run


def _would(action: dict[str, Any], rule_name: str, change: RecordChange) -> PlannedAction:
    kind = action["type"]
    detail = {key: value for key, value in action.items() if key != "type"}
    if kind == "set_fields":
        would = "set " + ", ".join(
            f"{name} = {value!r}" for name, value in action["fields"].items()
        )
    elif kind == "assign":
        who = []
        if action.get("team_id") is not None:
            who.append(f"team {action['team_id']}")
        if action.get("assignee_id") is not None:
            who.append(f"user {action['assignee_id']}")
        would = "assign to " + " and ".join(who)
        if action.get("assignee_id") is None:
            would += f" (strategy {action.get('strategy', 'team')})"
    elif kind in ("comment", "notify", "webhook"):
        text = _render(action["template"], rule_name, change)
        detail = {**detail, "text": text}
        if kind == "comment":
            would = ("add a public comment" if action.get("public") else "add a work note") + (
                f": {text}"
            )
        elif kind == "notify":
            users, teams = _recipients(action, records.kind_of(change.record_type), change.record)
            detail.update(user_ids=users, team_ids=teams)
            would = f"notify users {users} and teams {teams}: {text}"
        else:
            would = f"call webhook {action['webhook_id']}: {text}"
    elif kind == "link_problem":
        would = f"link to problem {action['problem_id']}"
    elif kind == "link_change":
        would = f"record change {action['change_id']} as the cause"
    else:
        would = "stop processing the rules after this one"
    return PlannedAction(type=kind, would=would, detail=detail)


def verdict(
    *, session: Session, rule: AutomationRule, record: Any, changes: dict[str, Any], now: datetime
) -> RecordVerdict:
    """What the rule would do to ``record`` now, with ``changes`` as what changed: nothing is
    written."""
    change = RecordChange(
        record_type=rule.record_type,
        record=record,
        trigger=rule.trigger,
        now=now,
        changes={name: (values[0], values[-1]) for name, values in changes.items() if values},
    )
    matches = conditions.holds(rule.conditions, facts_for(session, change))
    planned = [_would(action, rule.name, change) for action in rule.actions] if matches else []
    return RecordVerdict(
        record_id=record.id, number=_label(record), matches=matches, actions=planned
    )


def find_record(*, session: Session, record_type: str, reference: str) -> Any:
    return records.kind_of(record_type).find(session, reference)


def open_record_ids(
    *, session: Session, record_type: str, after_id: int = 0, limit: int = 500
) -> list[int]:
    """Open records of the type, by id: what a scheduled rule looks at (read only)."""
    return records.kind_of(record_type).open_ids(session, after_id=after_id, limit=limit)


def test_rule(
    *,
    session: Session,
    rule: AutomationRule,
    reference: str | None,
    changes: dict[str, Any],
    limit: int,
    now: datetime | None = None,
) -> tuple[list[RecordVerdict], int]:
    """The dry run: for one record, or for the open records the conditions match (at most
    ``limit`` of them); returns the verdicts and how many records were examined."""
    now = now or datetime.now(UTC)
    if reference is not None:
        record = find_record(session=session, record_type=rule.record_type, reference=reference)
        return [verdict(session=session, rule=rule, record=record, changes=changes, now=now)], 1
    kind = records.kind_of(rule.record_type)
    found: list[RecordVerdict] = []
    examined, after_id = 0, 0
    while len(found) < limit:
        ids = open_record_ids(session=session, record_type=rule.record_type, after_id=after_id)
        if not ids:
            break
        for record in kind.load(session, ids):
            examined += 1
            result = verdict(session=session, rule=rule, record=record, changes=changes, now=now)
            if result.matches:
                found.append(result)
                if len(found) >= limit:
                    break
        after_id = ids[-1]
    return found, examined


# -------------------------------------------------------------------------- scheduled rules


@dataclass
class ScheduleReport:
    rules: int = 0  # scheduled rules run
    examined: int = 0  # records whose conditions were evaluated
    fired: int = 0
    skipped: int = 0  # records another transaction held


def claim_due_rules(*, session: Session, now: datetime) -> list[int]:
    """Claim the scheduled rules due now (marking them run); returns their ids."""
    claimed = []
    for rule in service.due_scheduled(session=session, now=now):
        if service.claim_schedule(session=session, rule_id=rule.id, now=now) is not None:
            claimed.append(rule.id)
    return claimed


def run_scheduled_on(
    *, session: Session, rule_id: int, record_id: int, now: datetime
) -> bool | None:
    """Run one scheduled rule on one open record (locked); None when another transaction holds
    the record, else whether the rule fired."""
    rule = service.get(session=session, rule_id=rule_id)
    record = records.kind_of(rule.record_type).lock_open(session, record_id)
    if record is None or record is False:
        return record
    change = RecordChange(
        record_type=rule.record_type, record=record, trigger=Trigger.schedule, now=now
    )
    return run_rules(session=session, rules=[rule], change=change) > 0


def run_schedules(
    *, make_session: Callable[[], Session], now: datetime, batch_size: int = 500
) -> ScheduleReport:
    """The worker's step: every due scheduled rule over the open records, one transaction per
    record (as the SLA scan does)."""
    report = ScheduleReport()
    with session_scope(make_session) as session:
        rule_ids = claim_due_rules(session=session, now=now)
    for rule_id in rule_ids:
        report.rules += 1
        with session_scope(make_session) as session:
            record_type = service.get(session=session, rule_id=rule_id).record_type
        after_id = 0
        while True:
            with session_scope(make_session) as session:
                ids = open_record_ids(
                    session=session, record_type=record_type, after_id=after_id, limit=batch_size
                )
            for record_id in ids:
                report.examined += 1
                try:
                    with session_scope(make_session) as session:
                        fired = run_scheduled_on(
                            session=session, rule_id=rule_id, record_id=record_id, now=now
                        )
                except Exception:
                    logger.exception("scheduled rule %s failed on record %s", rule_id, record_id)
                    continue
                report.fired += bool(fired)
                report.skipped += fired is None
            if len(ids) < batch_size:
                break
            after_id = ids[-1]
    return report
