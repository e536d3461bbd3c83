"""SLA calendars, policies, escalation rules and timers (docs/sla.md).

Business-time arithmetic lives only in ``operational.sla.businesstime``; which intervals count is
decided only in ``operational.sla.timeline``. This module loads their inputs, writes their
results and appends the SLA transitions they yield to the event log.

Public entry points used by other domains:
- ``recompute_timers(session=, incident=, now=None)``: called by the incident service after every
  change to an incident, in the same transaction, with the incident row locked.
- ``backfill(session=, incident_ids=)``: called by ingest after importing history.
- ``timers_for(session=, incident_id=)`` / ``timers_for_incidents(session=, incident_ids=)``.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Table, exists, func, select, text, tuple_, union
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from operational.auth.models import Team, User
from operational.core.errors import Conflict, DomainError, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events_service
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.incidents.models import Incident
from operational.sla import timeline
from operational.sla.businesstime import BusinessCalendar
from operational.sla.enums import (
    BREACH_THRESHOLD,
    WEEKDAYS,
    EscalationAction,
    TimerState,
    TimerTarget,
)
from operational.sla.models import (
    SlaAlert,
    SlaCalendar,
    SlaEscalation,
    SlaEscalationRule,
    SlaNotification,
    SlaPolicy,
    SlaTimer,
)
from operational.sla.schemas import (
    CalendarCreate,
    CalendarUpdate,
    EscalationRuleCreate,
    EscalationRuleUpdate,
    PolicyCreate,
    PolicyUpdate,
    _check_action,
)

SLA_ACTOR_LABEL = "sla"
_DIALECT = postgresql.dialect()
BACKFILL_CHUNK = 1000

# ---------------------------------------------------------------------------------------------
# Calendars


def _parse_clock(value: str) -> time:
    return time(0, 0) if value == "24:00" else time.fromisoformat(value)


def business_calendar(
    *,
    timezone: str,
    weekly_hours: dict[str, list[str]],
    holiday_country: str | None = None,
    holiday_subdivision: str | None = None,
    added_holidays: Iterable[date] = (),
    removed_holidays: Iterable[date] = (),
) -> BusinessCalendar:
    """The BusinessCalendar of stored calendar fields; raises ValueError when they are invalid."""
    windows: dict[int, tuple[tuple[time, time], ...]] = {}
    for index, day in enumerate(WEEKDAYS):
        spans = []
        for window in weekly_hours.get(day.value, []):
            start, end = window.split("-")
            spans.append((_parse_clock(start), _parse_clock(end)))
        windows[index] = tuple(spans)
    return BusinessCalendar(
        timezone=timezone,
        weekly_hours=windows,
        holiday_country=holiday_country,
        holiday_subdivision=holiday_subdivision,
        added_holidays=frozenset(added_holidays),
        removed_holidays=frozenset(removed_holidays),
    )


def to_business_calendar(calendar: SlaCalendar) -> BusinessCalendar:
    return business_calendar(
        timezone=calendar.timezone,
        weekly_hours=calendar.weekly_hours,
        holiday_country=calendar.holiday_country,
        holiday_subdivision=calendar.holiday_subdivision,
        added_holidays=calendar.added_holidays or (),
        removed_holidays=calendar.removed_holidays or (),
    )


def _normalise_calendar_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("weekly_hours") is not None:
        fields["weekly_hours"] = {
            str(getattr(day, "value", day)): list(windows)
            for day, windows in fields["weekly_hours"].items()
        }
    for key in ("holiday_country", "holiday_subdivision"):
        if fields.get(key):
            fields[key] = fields[key].strip().upper()
    for key in ("added_holidays", "removed_holidays"):
        if fields.get(key) is not None:
            fields[key] = sorted(set(fields[key]))
    return fields


def _check_calendar(calendar: SlaCalendar) -> None:
    try:
        to_business_calendar(calendar)
    except ValueError as exc:
        raise UnprocessableEntity(f"The calendar is not valid: {exc}") from exc


_LABELS = {"sla_calendars": "calendar", "sla_policies": "policy", "sla_escalation_rules": "rule"}


def _unique_name(session: Session, model: type, name: str, exclude_id: int | None = None) -> None:
    clash = session.scalar(
        select(model.id).where(
            func.lower(model.name) == name.lower(), model.id != (exclude_id or 0)
        )
    )
    if clash is not None:
        raise Conflict(f"A {_LABELS[model.__tablename__]} named {name!r} exists already")


def get_calendar(*, session: Session, calendar_id: int) -> SlaCalendar:
    calendar = session.get(SlaCalendar, calendar_id)
    if calendar is None:
        raise NotFound(f"Calendar {calendar_id} does not exist")
    return calendar


def list_calendars(*, session: Session, params: PageParams) -> Page[Any]:
    return paginate(
        session,
        select(SlaCalendar),
        params,
        sortable={"id": SlaCalendar.id, "name": SlaCalendar.name},
        default_sort=[SlaCalendar.id],
    )


def create_calendar(*, session: Session, data: CalendarCreate) -> SlaCalendar:
    _unique_name(session, SlaCalendar, data.name)
    calendar = SlaCalendar(**_normalise_calendar_fields(data.model_dump()))
    _check_calendar(calendar)
    session.add(calendar)
    session.flush()
    return calendar


def update_calendar(
    *, session: Session, calendar: SlaCalendar, data: CalendarUpdate
) -> SlaCalendar:
    fields = _normalise_calendar_fields(data.model_dump(exclude_unset=True))
    for key in ("name", "timezone", "weekly_hours", "added_holidays", "removed_holidays"):
        if key in fields and fields[key] is None:
            raise UnprocessableEntity(f"{key} cannot be null")
    if "name" in fields:
        _unique_name(session, SlaCalendar, fields["name"], exclude_id=calendar.id)
    for key, value in fields.items():
        setattr(calendar, key, value)
    _check_calendar(calendar)
    session.flush()
    return calendar


def delete_calendar(*, session: Session, calendar: SlaCalendar) -> None:
    users = session.scalars(select(SlaPolicy.name).where(SlaPolicy.calendar_id == calendar.id))
    names = sorted(users)
    if names:
        raise Conflict(
            f"The calendar is used by policies: {', '.join(names)}", policies=list(names)
        )
    session.delete(calendar)
    session.flush()


# ---------------------------------------------------------------------------------------------
# Policies


def _policy_snapshot(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "priority": policy.priority,
        "service": policy.service,
        "category": policy.category,
        "calendar_id": policy.calendar_id,
        "response_minutes": policy.response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "pause_on": policy.pause_on,
        "warning_thresholds": list(policy.warning_thresholds),
        "is_active": policy.is_active,
    }


def _label_key(value: str | None) -> str | None:
    return value.strip().casefold() if value is not None else None


def _check_policy(session: Session, policy: SlaPolicy) -> None:
    if session.get(SlaCalendar, policy.calendar_id) is None:
        raise UnprocessableEntity(
            f"Calendar {policy.calendar_id} does not exist", field="calendar_id"
        )
    if not policy.is_active:
        return
    others = session.scalars(
        select(SlaPolicy).where(SlaPolicy.is_active, SlaPolicy.id != (policy.id or 0))
    ).all()
    criteria = (policy.priority, _label_key(policy.service), _label_key(policy.category))
    for other in others:
        if (other.priority, _label_key(other.service), _label_key(other.category)) == criteria:
            raise Conflict(
                f"The active policy {other.name!r} already applies to the same priority, "
                "service and category; deactivate it or change the criteria",
                policy_id=other.id,
            )


def get_policy(*, session: Session, policy_id: int) -> SlaPolicy:
    policy = session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound(f"Policy {policy_id} does not exist")
    return policy


def list_policies(
    *, session: Session, params: PageParams, is_active: bool | None = None
) -> Page[Any]:
    statement = select(SlaPolicy)
    if is_active is not None:
        statement = statement.where(SlaPolicy.is_active == is_active)
    return paginate(
        session,
        statement,
        params,
        sortable={
            "id": SlaPolicy.id,
            "name": SlaPolicy.name,
            "priority": SlaPolicy.priority,
            "service": SlaPolicy.service,
            "category": SlaPolicy.category,
        },
        default_sort=[SlaPolicy.id],
    )


def create_policy(*, session: Session, data: PolicyCreate, actor: User | None) -> SlaPolicy:
    _unique_name(session, SlaPolicy, data.name)
    fields = data.model_dump(mode="json")
    policy = SlaPolicy(**fields)
    _check_policy(session, policy)
    session.add(policy)
    session.flush()
    events_service.append(
        session=session,
        entity_type=EntityType.sla_policy,
        entity_id=policy.id,
        kind=EventKind.created,
        actor=actor,
        new_value=policy.name,
        data=_policy_snapshot(policy),
    )
    return policy


def update_policy(
    *, session: Session, policy: SlaPolicy, data: PolicyUpdate, actor: User | None
) -> SlaPolicy:
    fields = data.model_dump(mode="json", exclude_unset=True)
    if data.pause_on is not None:  # whole conditions, also their unset (null) hold reasons
        fields["pause_on"] = [condition.model_dump(mode="json") for condition in data.pause_on]
    for key in (
        "name",
        "is_active",
        "calendar_id",
        "response_minutes",
        "resolution_minutes",
        "pause_on",
        "warning_thresholds",
    ):
        if key in fields and fields[key] is None:
            raise UnprocessableEntity(f"{key} cannot be null")
    if "name" in fields:
        _unique_name(session, SlaPolicy, fields["name"], exclude_id=policy.id)
    before = _policy_snapshot(policy)
    for key, value in fields.items():
        setattr(policy, key, value)
    _check_policy(session, policy)
    session.flush()
    after = _policy_snapshot(policy)
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if changes:
        events_service.append(
            session=session,
            entity_type=EntityType.sla_policy,
            entity_id=policy.id,
            kind=EventKind.field_changed,
            actor=actor,
            data={"changes": changes},
        )
    return policy


def delete_policy(*, session: Session, policy: SlaPolicy) -> None:
    if session.scalar(select(SlaTimer.id).where(SlaTimer.policy_id == policy.id).limit(1)):
        raise Conflict("Timers use this policy; deactivate it instead (is_active false)")
    if session.scalar(
        select(SlaEscalationRule.id).where(SlaEscalationRule.policy_id == policy.id).limit(1)
    ):
        raise Conflict("Escalation rules refer to this policy; change or delete them first")
    session.delete(policy)
    session.flush()


def _pause_rules(pause_on: Sequence[dict[str, Any]]) -> tuple[timeline.PauseRule, ...]:
    return tuple(timeline.PauseRule(rule["state"], rule.get("hold_reason")) for rule in pause_on)


def active_policy_rules(*, session: Session) -> list[timeline.PolicyRules]:
    """The active policies as the replay sees them (one BusinessCalendar per calendar)."""
    calendars: dict[int, BusinessCalendar] = {}
    rules = []
    for policy in session.scalars(select(SlaPolicy).where(SlaPolicy.is_active)).unique():
        if policy.calendar_id not in calendars:
            calendars[policy.calendar_id] = to_business_calendar(policy.calendar)
        rules.append(
            timeline.PolicyRules(
                id=policy.id,
                name=policy.name,
                calendar=calendars[policy.calendar_id],
                response_minutes=policy.response_minutes,
                resolution_minutes=policy.resolution_minutes,
                pause_on=_pause_rules(policy.pause_on),
                warning_thresholds=tuple(sorted(policy.warning_thresholds)),
                priority=policy.priority,
                service=policy.service,
                category=policy.category,
            )
        )
    return rules


# ---------------------------------------------------------------------------------------------
# Escalation rules


def _check_rule(session: Session, rule: SlaEscalationRule) -> None:
    try:
        _check_action(rule.action, rule.team_id, rule.raise_to_priority)
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from exc
    if rule.team_id is not None and session.get(Team, rule.team_id) is None:
        raise UnprocessableEntity(f"Team {rule.team_id} does not exist", field="team_id")
    if rule.policy_id is not None and session.get(SlaPolicy, rule.policy_id) is None:
        raise UnprocessableEntity(f"Policy {rule.policy_id} does not exist", field="policy_id")


def get_rule(*, session: Session, rule_id: int) -> SlaEscalationRule:
    rule = session.get(SlaEscalationRule, rule_id)
    if rule is None:
        raise NotFound(f"Escalation rule {rule_id} does not exist")
    return rule


def list_rules(*, session: Session, params: PageParams, is_active: bool | None = None) -> Page[Any]:
    statement = select(SlaEscalationRule)
    if is_active is not None:
        statement = statement.where(SlaEscalationRule.is_active == is_active)
    return paginate(
        session,
        statement,
        params,
        sortable={
            "id": SlaEscalationRule.id,
            "name": SlaEscalationRule.name,
            "threshold": SlaEscalationRule.threshold,
        },
        default_sort=[SlaEscalationRule.id],
    )


def create_rule(*, session: Session, data: EscalationRuleCreate) -> SlaEscalationRule:
    _unique_name(session, SlaEscalationRule, data.name)
    rule = SlaEscalationRule(**data.model_dump(mode="json"))
    _check_rule(session, rule)
    session.add(rule)
    session.flush()
    return rule


def update_rule(
    *, session: Session, rule: SlaEscalationRule, data: EscalationRuleUpdate
) -> SlaEscalationRule:
    fields = data.model_dump(mode="json", exclude_unset=True)
    for key in ("name", "is_active", "threshold", "action"):
        if key in fields and fields[key] is None:
            raise UnprocessableEntity(f"{key} cannot be null")
    if "name" in fields:
        _unique_name(session, SlaEscalationRule, fields["name"], exclude_id=rule.id)
    for key, value in fields.items():
        setattr(rule, key, value)
    _check_rule(session, rule)
    session.flush()
    return rule


def delete_rule(*, session: Session, rule: SlaEscalationRule) -> None:
    if session.scalar(select(SlaEscalation.id).where(SlaEscalation.rule_id == rule.id).limit(1)):
        raise Conflict("This rule has fired; deactivate it instead (is_active false)")
    session.delete(rule)
    session.flush()


# ---------------------------------------------------------------------------------------------
# Timers: reading


def _by_target_order(timers: Iterable[SlaTimer]) -> list[SlaTimer]:
    order = {target.value: index for index, target in enumerate(TimerTarget)}
    return sorted(timers, key=lambda timer: order[timer.target])


def timers_for(*, session: Session, incident_id: int) -> list[SlaTimer]:
    """The incident's timers (response first), as last recomputed."""
    return timers_for_incidents(session=session, incident_ids=[incident_id]).get(incident_id, [])


def timers_for_incidents(
    *, session: Session, incident_ids: Iterable[int]
) -> dict[int, list[SlaTimer]]:
    """Timers of many incidents in one query (for incident lists)."""
    ids = list(incident_ids)
    found: dict[int, list[SlaTimer]] = defaultdict(list)
    if not ids:
        return found
    rows = session.scalars(
        select(SlaTimer)
        .where(SlaTimer.incident_id.in_(ids))
        .execution_options(populate_existing=True)
    ).unique()
    for timer in rows:
        found[timer.incident_id].append(timer)
    return {incident_id: _by_target_order(timers) for incident_id, timers in found.items()}


def incident_sla_state_condition(states: Iterable[str]) -> Any:
    """A WHERE condition on Incident: it has a timer in one of ``states`` (incident lists)."""
    return exists().where(SlaTimer.incident_id == Incident.id, SlaTimer.state.in_(list(states)))


def list_timers(
    *,
    session: Session,
    params: PageParams,
    incident_id: int | None = None,
    state: TimerState | None = None,
    target: TimerTarget | None = None,
) -> Page[Any]:
    statement = select(SlaTimer)
    if incident_id is not None:
        statement = statement.where(SlaTimer.incident_id == incident_id)
    if state is not None:
        statement = statement.where(SlaTimer.state == state)
    if target is not None:
        statement = statement.where(SlaTimer.target == target)
    return paginate(
        session,
        statement,
        params,
        sortable={
            "id": SlaTimer.id,
            "due_at": SlaTimer.due_at,
            "started_at": SlaTimer.started_at,
            "elapsed_minutes": SlaTimer.elapsed_minutes,
            "state": SlaTimer.state,
        },
        default_sort=[SlaTimer.id],
    )


# ---------------------------------------------------------------------------------------------
# Timers: recompute and backfill (one code path)


@dataclass
class _Subject:
    """One incident and its log, as the recompute needs them."""

    incident_id: int
    state: str
    opened_at: datetime
    requester_id: int | None
    current: timeline.Attributes
    history: list[timeline.HistoryEvent]
    logged: set[tuple[str, str | None, datetime, int | None]]
    last_seq: int


def _subject(incident: Any, events: Iterable[Any]) -> _Subject:
    """From an incident (row or ORM object) and its events in seq order."""
    history: list[timeline.HistoryEvent] = []
    logged: set[tuple[str, str | None, datetime, int | None]] = set()
    last_seq = 0
    for event in events:
        last_seq = max(last_seq, event.seq)
        if event.kind.startswith("sla_"):
            threshold = int(event.new_value) if event.kind == EventKind.sla_warning else None
            logged.add((event.kind, event.field, event.occurred_at, threshold))
        elif event.kind != EventKind.escalated:
            history.append(
                timeline.HistoryEvent(
                    occurred_at=event.occurred_at,
                    kind=event.kind,
                    field=event.field,
                    old_value=event.old_value,
                    new_value=event.new_value,
                    actor_id=event.actor_id,
                    data=event.data,
                    source_system=event.source_system,
                )
            )
    return _Subject(
        incident_id=incident.id,
        state=incident.state,
        opened_at=incident.opened_at,
        requester_id=incident.requester_id,
        current=timeline.Attributes(
            state=incident.state,
            hold_reason=incident.hold_reason,
            priority=incident.priority,
            service=incident.service,
            category=incident.category,
        ),
        history=history,
        logged=logged,
        last_seq=last_seq,
    )


@dataclass(frozen=True)
class _StoredTimer:
    state: str
    completed_at: datetime | None


def _is_frozen(stored: _StoredTimer | None, outcome: timeline.TimerOutcome) -> bool:
    """A finished timer whose result the replay confirms is never rewritten (policy edits made
    since do not change settled verdicts). A breached timer still running is not finished."""
    return (
        stored is not None
        and stored.completed_at is not None
        and stored.state == outcome.state
        and stored.completed_at == outcome.completed_at
    )


def _recompute(
    session: Session,
    subjects: Sequence[_Subject],
    *,
    policies: Sequence[timeline.PolicyRules],
    now: datetime,
    escalate: bool,
    synthesized: bool,
) -> None:
    """Replay each subject, upsert its timers, record crossings and append missing SLA events."""
    if not subjects:
        return
    stored: dict[tuple[int, str], _StoredTimer] = {
        (row.incident_id, row.target): _StoredTimer(row.state, row.completed_at)
        for row in session.execute(
            select(
                SlaTimer.incident_id, SlaTimer.target, SlaTimer.state, SlaTimer.completed_at
            ).where(SlaTimer.incident_id.in_([subject.incident_id for subject in subjects]))
        )
    }
    timer_rows: list[dict[str, Any]] = []
    crossings: list[tuple[int, str, timeline.Crossing]] = []
    event_rows: list[dict[str, Any]] = []
    unmatched: list[tuple[int, str]] = []  # stored timers no active policy applies to any more
    for subject in subjects:
        targets = [stored.get((subject.incident_id, target.value)) for target in TimerTarget]
        if subject.state in ("closed", "cancelled") and all(
            timer is not None and timer.completed_at is not None for timer in targets
        ):
            continue  # settled for good: nothing can change
        points = timeline.change_points(
            opened_at=subject.opened_at,
            requester_id=subject.requester_id,
            current=subject.current,
            events=subject.history,
        )
        outcomes = timeline.replay(points=points, policies=policies, now=now)
        produced = {outcome.target.value for outcome in outcomes}
        unmatched.extend(
            (subject.incident_id, target.value)
            for target, timer in zip(TimerTarget, targets, strict=True)
            if timer is not None and target.value not in produced
        )
        pending: list[timeline.Transition] = []
        for outcome in outcomes:
            if _is_frozen(stored.get((subject.incident_id, outcome.target.value)), outcome):
                continue
            timer_rows.append(_timer_row(subject.incident_id, outcome, now))
            crossings.extend(
                (subject.incident_id, outcome.target.value, crossing)
                for crossing in outcome.crossings
            )
            pending.extend(t for t in outcome.transitions if t.identity not in subject.logged)
        pending.sort(key=lambda transition: transition.sort_key)
        for offset, transition in enumerate(pending, start=1):
            event_rows.append(
                _event_row(subject.incident_id, subject.last_seq + offset, transition, synthesized)
            )
    if unmatched:
        # Keep their last numbers, but stop the worker from scanning them.
        session.execute(
            SlaTimer.__table__.update()
            .where(tuple_(SlaTimer.incident_id, SlaTimer.target).in_(unmatched))
            .values(next_alert_at=None)
        )
    if not timer_rows:
        return
    timer_ids = {
        (row.incident_id, row.target): row.id
        for row in _insert_rows(
            session,
            SlaTimer.__table__,
            timer_rows,
            suffix="on conflict (incident_id, target) do update set "
            + ", ".join(
                f"{column} = excluded.{column}"
                for column in timer_rows[0]
                if column not in ("incident_id", "target")
            ),
            returning=("id", "incident_id", "target"),
        )
    }
    if crossings:
        _insert_rows(
            session,
            SlaAlert.__table__,
            [
                {
                    "timer_id": timer_ids[(incident_id, target)],
                    "incident_id": incident_id,
                    "target_minutes": crossing.target_minutes,
                    "threshold": crossing.threshold,
                    "occurred_at": crossing.at,
                    # History is recorded, not escalated: nobody is chased over old tickets.
                    "escalated_at": None if escalate else now,
                }
                for incident_id, target, crossing in crossings
            ],
            suffix="on conflict (timer_id, target_minutes, threshold) do nothing",
        )
    if event_rows:
        _insert_rows(session, Event.__table__, event_rows)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {value!r} as JSON")


def _insert_rows(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    suffix: str = "",
    returning: tuple[str, ...] = (),
) -> list[Any]:
    """INSERT many rows as one statement over one JSON document (``jsonb_to_recordset``): a
    short statement and a single parameter whatever the row count, so a backfill writes
    thousands of rows per round trip and the live recompute the same way."""
    columns = list(rows[0])
    definitions = ", ".join(
        f"{name} {table.c[name].type.compile(dialect=_DIALECT)}" for name in columns
    )
    names = ", ".join(columns)
    statement = (
        f"insert into {table.schema}.{table.name} ({names}) select {names} "
        f"from jsonb_to_recordset(cast(:rows as jsonb)) as r({definitions}) {suffix}"
    )
    if returning:
        statement += f" returning {', '.join(returning)}"
    result = session.execute(text(statement), {"rows": json.dumps(rows, default=_json_value)})
    return list(result) if returning else []


def _timer_row(incident_id: int, outcome: timeline.TimerOutcome, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "target": outcome.target.value,
        "policy_id": outcome.policy.id,
        "target_minutes": outcome.target_minutes,
        "started_at": outcome.started_at,
        "due_at": outcome.due_at,
        "elapsed_minutes": outcome.elapsed_minutes,
        "paused_minutes": outcome.paused_minutes,
        "state": outcome.state.value,
        "completed_at": outcome.completed_at,
        "breached_at": outcome.breached_at,
        "warnings_fired": outcome.warnings_fired,
        "next_alert_at": outcome.next_alert_at,
        "computed_at": now,
    }


def _event_row(
    incident_id: int, seq: int, transition: timeline.Transition, synthesized: bool
) -> dict[str, Any]:
    return {
        "entity_type": EntityType.incident.value,
        "entity_id": incident_id,
        "seq": seq,
        "occurred_at": transition.at,
        "actor_id": None,
        "actor_label": SLA_ACTOR_LABEL,
        "kind": transition.kind,
        "field": transition.target.value,
        "old_value": transition.old_value,
        "new_value": transition.new_value,
        "data": transition.data or None,
        "source_system": "native",
        "synthesized": synthesized,
    }


def recompute_timers(
    *, session: Session, incident: Incident, now: datetime | None = None
) -> list[SlaTimer]:
    """(Re)compute the incident's SLA timers by replaying its event log, as of ``now``.

    Appends the SLA transitions the log does not hold yet (each exactly once), records warnings
    and breaches that have happened (each once; the worker escalates them) and returns the timers.
    The caller holds the incident row locked (the incident service and the worker both do).
    """
    now = now or datetime.now(UTC)
    session.flush()
    events = events_service.list_for(
        session=session, entity_type=EntityType.incident, entity_id=incident.id
    )
    _recompute(
        session,
        [_subject(incident, events)],
        policies=active_policy_rules(session=session),
        now=now,
        escalate=True,
        synthesized=False,
    )
    return timers_for(session=session, incident_id=incident.id)


def backfill(*, session: Session, incident_ids: Iterable[int], now: datetime | None = None) -> int:
    """Compute the timers of (imported) incidents from their event logs; returns how many
    incidents were replayed. The same replay as ``recompute_timers``, loaded set-wise: one query
    for the incidents and one for their events per chunk. Warnings and breaches found in the
    history are recorded but not escalated; the SLA events it appends are marked synthesized."""
    now = now or datetime.now(UTC)
    session.flush()
    ids = sorted(set(incident_ids))
    policies = active_policy_rules(session=session)
    replayed = 0
    for start in range(0, len(ids), BACKFILL_CHUNK):
        chunk = ids[start : start + BACKFILL_CHUNK]
        incidents = session.execute(
            select(
                Incident.id,
                Incident.state,
                Incident.opened_at,
                Incident.requester_id,
                Incident.hold_reason,
                Incident.priority,
                Incident.service,
                Incident.category,
            ).where(Incident.id.in_(chunk))
        ).all()
        events_by_incident: dict[int, list[Any]] = defaultdict(list)
        for event in session.execute(
            select(
                Event.entity_id,
                Event.seq,
                Event.occurred_at,
                Event.kind,
                Event.field,
                Event.old_value,
                Event.new_value,
                Event.actor_id,
                Event.data,
                Event.source_system,
            )
            .where(Event.entity_type == EntityType.incident.value, Event.entity_id.in_(chunk))
            .order_by(Event.entity_id, Event.seq)
        ):
            events_by_incident[event.entity_id].append(event)
        subjects = [_subject(row, events_by_incident.get(row.id, [])) for row in incidents]
        _recompute(session, subjects, policies=policies, now=now, escalate=False, synthesized=True)
        replayed += len(subjects)
    return replayed


# ---------------------------------------------------------------------------------------------
# Escalation and the worker's unit of work


def incidents_needing_attention(
    *, session: Session, now: datetime, limit: int = 500, after_id: int = 0
) -> list[int]:
    """Incidents with a warning or breach falling due by ``now``, or with alerts not escalated;
    in id order from ``after_id`` on (the worker pages through a backlog with it)."""
    due = select(SlaTimer.incident_id).where(SlaTimer.next_alert_at <= now)
    pending = select(SlaAlert.incident_id).where(SlaAlert.escalated_at.is_(None))
    combined = union(due, pending).subquery()
    return list(
        session.scalars(
            select(combined.c.incident_id)
            .where(combined.c.incident_id > after_id)
            .order_by(combined.c.incident_id)
            .limit(limit)
        )
    )


def process_incident(*, session: Session, incident_id: int, now: datetime) -> int | None:
    """Recompute one incident's timers and run its pending escalations.

    Locks the incident with SKIP LOCKED: None when another transaction (an agent's update or
    another worker) holds it; that one, or the next scan, does the work. Returns escalations fired.
    """
    locked = session.scalar(
        select(Incident.id).where(Incident.id == incident_id).with_for_update(skip_locked=True)
    )
    if locked is None:
        return None
    incident = session.get(Incident, incident_id, populate_existing=True)
    recompute_timers(session=session, incident=incident, now=now)
    return escalate_pending(session=session, incident=incident, now=now)


def _rule_applies(
    rule: SlaEscalationRule, alert: SlaAlert, timer: SlaTimer, incident: Incident
) -> bool:
    return (
        rule.threshold <= alert.threshold
        and rule.target in (None, timer.target)
        and rule.priority in (None, incident.priority)
        and rule.policy_id in (None, timer.policy_id)
    )


def escalate_pending(*, session: Session, incident: Incident, now: datetime) -> int:
    """Run the escalation rules for the incident's alerts not yet escalated; returns how many
    fired. A rule fires at most once per timer (unique key), and only while the timer is open
    and the alert is about its current target."""
    fired = 0
    while True:
        alerts = session.scalars(
            select(SlaAlert)
            .where(SlaAlert.incident_id == incident.id, SlaAlert.escalated_at.is_(None))
            .order_by(SlaAlert.occurred_at, SlaAlert.threshold, SlaAlert.id)
            .execution_options(populate_existing=True)
        ).all()
        if not alerts:
            return fired
        rules = session.scalars(
            select(SlaEscalationRule)
            .where(SlaEscalationRule.is_active)
            .order_by(SlaEscalationRule.threshold, SlaEscalationRule.id)
        ).all()
        for alert in alerts:
            timer = session.get(SlaTimer, alert.timer_id, populate_existing=True)
            current = (
                timer is not None
                and timer.completed_at is None
                and timer.state != TimerState.cancelled
                and alert.target_minutes == timer.target_minutes
            )
            if current:
                for rule in rules:
                    if _rule_applies(rule, alert, timer, incident):
                        fired += _fire(session, rule=rule, alert=alert, timer=timer, now=now)
            alert.escalated_at = now
            session.flush()


def _fire(
    session: Session,
    *,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    timer: SlaTimer,
    now: datetime,
) -> int:
    """Claim (timer, rule) with the unique key, then act. 0 when it had fired already."""
    escalation_id = session.execute(
        pg_insert(SlaEscalation.__table__)
        .values(
            rule_id=rule.id,
            timer_id=timer.id,
            alert_id=alert.id,
            incident_id=timer.incident_id,
            action=rule.action,
            outcome="pending",
            fired_at=now,
        )
        .on_conflict_do_nothing(index_elements=["timer_id", "rule_id"])
        .returning(SlaEscalation.__table__.c.id)
    ).scalar_one_or_none()
    if escalation_id is None:
        return 0
    incident = session.get(Incident, timer.incident_id)
    try:
        with session.begin_nested():
            outcome, detail = _act(
                session, rule=rule, alert=alert, timer=timer, incident=incident, now=now
            )
            if rule.action == EscalationAction.notify and outcome == "done":
                session.add(
                    SlaNotification(escalation_id=escalation_id, **detail.pop("notification"))
                )
                session.flush()
    except DomainError as exc:
        outcome, detail = "failed", {"error": exc.detail}
    detail = {**detail, "rule": rule.name, "threshold": alert.threshold}
    escalation = session.get(SlaEscalation, escalation_id)
    escalation.outcome = outcome
    escalation.detail = detail
    events_service.append(
        session=session,
        entity_type=EntityType.incident,
        entity_id=incident.id,
        kind=EventKind.escalated,
        actor=None,
        actor_label=SLA_ACTOR_LABEL,
        field=timer.target,
        new_value=rule.action,
        occurred_at=now,
        data={
            "rule_id": rule.id,
            "action": rule.action,
            "outcome": outcome,
            "threshold": alert.threshold,
            "escalation_id": escalation_id,
            **{k: v for k, v in detail.items() if k in ("team_id", "priority", "error")},
        },
    )
    session.flush()
    return 1


def _alert_phrase(alert: SlaAlert) -> str:
    if alert.threshold == BREACH_THRESHOLD:
        return "breached"
    return f"at {alert.threshold}% of its target"


def _act(
    session: Session,
    *,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    timer: SlaTimer,
    incident: Incident,
    now: datetime,
) -> tuple[str, dict[str, Any]]:
    from operational.incidents import service as incidents_service

    reason = f"SLA escalation rule {rule.name!r}: the {timer.target} SLA is {_alert_phrase(alert)}"
    if rule.action == EscalationAction.notify:
        team_id = rule.team_id or incident.assignment_group_id
        user_id = incident.assignee_id if rule.team_id is None else None
        if team_id is None and user_id is None:
            return "skipped", {"reason": "nobody to notify: no team on the rule or the incident"}
        due = timer.due_at.isoformat() if timer.due_at else "paused"
        return "done", {
            "team_id": team_id,
            "notification": {
                "incident_id": incident.id,
                "recipient_team_id": team_id,
                "recipient_user_id": user_id,
                "subject": f"{incident.number}: {timer.target} SLA {_alert_phrase(alert)}",
                "body": (
                    f"{incident.number} ({incident.title}), priority P{incident.priority}: the "
                    f"{timer.target} SLA ({timer.target_minutes} business minutes, due {due}) "
                    f"is {_alert_phrase(alert)}. Rule: {rule.name}."
                ),
                "created_at": now,
            },
        }
    if rule.action == EscalationAction.reassign:
        if incident.assignment_group_id == rule.team_id:
            return "skipped", {"reason": "already with that team", "team_id": rule.team_id}
        incidents_service.assign(
            session=session,
            incident=incident,
            actor=None,
            team_id=rule.team_id,
            reason=reason,
            rule=rule,
            now=now,
        )
        return "done", {"team_id": rule.team_id}
    new_priority = rule.raise_to_priority or incident.priority - 1
    if new_priority < 1 or new_priority >= incident.priority:
        return "skipped", {"reason": f"already at P{incident.priority}"}
    incidents_service.change_priority(
        session=session,
        incident=incident,
        actor=None,
        priority=new_priority,
        reason=reason,
        now=now,
    )
    return "done", {"priority": new_priority}


def list_escalations(
    *, session: Session, params: PageParams, incident_id: int | None = None
) -> Page[Any]:
    statement = select(SlaEscalation)
    if incident_id is not None:
        statement = statement.where(SlaEscalation.incident_id == incident_id)
    return paginate(
        session,
        statement,
        params,
        sortable={"id": SlaEscalation.id, "fired_at": SlaEscalation.fired_at},
        default_sort=[SlaEscalation.id],
    )


def list_notifications(
    *, session: Session, params: PageParams, incident_id: int | None = None
) -> Page[Any]:
    statement = select(SlaNotification)
    if incident_id is not None:
        statement = statement.where(SlaNotification.incident_id == incident_id)
    return paginate(
        session,
        statement,
        params,
        sortable={"id": SlaNotification.id, "created_at": SlaNotification.created_at},
        default_sort=[SlaNotification.id],
    )
