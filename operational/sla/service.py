"""SLA configuration: business calendars, policies and escalation rules (docs/sla.md).

Business-time arithmetic lives only in ``operational.sla.businesstime``; which intervals count is
decided only in ``operational.sla.timeline``. The timers that follow from this configuration are
``operational.sla.timers``; what happens when they cross a threshold is
``operational.sla.escalation``.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.core.errors import Conflict, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events_service
from operational.events.enums import EntityType
from operational.sla import timeline, versions
from operational.sla.businesstime import BusinessCalendar
from operational.sla.enums import BREACH_THRESHOLD, WEEKDAYS, RecordType
from operational.sla.models import (
    SlaCalendar,
    SlaEscalation,
    SlaEscalationRule,
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
    check_rule_fields,
)

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


def calendar_problem(calendar: SlaCalendar) -> str | None:
    """Why the SLA engine cannot count time with ``calendar``, or None when it can."""
    try:
        built = to_business_calendar(calendar)
    except ValueError as exc:
        return str(exc)
    if not built.has_working_time:
        return "it has no working time (every weekday is empty), so nothing could ever be due"
    return None


def _check_calendar(calendar: SlaCalendar) -> None:
    problem = calendar_problem(calendar)
    if problem is not None:
        raise UnprocessableEntity(f"The calendar is not valid: {problem}", field="weekly_hours")


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


def _record(
    session: Session,
    entity_type: EntityType,
    row: Any,
    actor: User | None,
    before: dict[str, Any] | None,
    deleted: bool = False,
) -> None:
    """A configuration change as an event of the row's log, with the values before and after."""
    events_service.record_change(
        session=session,
        entity_type=entity_type,
        entity_id=row.id,
        actor=actor,
        before=before,
        after=None if deleted else events_service.snapshot(row),
        label=row.name,
    )


def create_calendar(
    *,
    session: Session,
    data: CalendarCreate,
    actor: User | None = None,
    now: datetime | None = None,
) -> SlaCalendar:
    """Create a calendar; its first version is in force from ``now`` (default: the clock)."""
    _unique_name(session, SlaCalendar, data.name)
    calendar = SlaCalendar(**_normalise_calendar_fields(data.model_dump()))
    _check_calendar(calendar)
    session.add(calendar)
    session.flush()
    _record(session, EntityType.sla_calendar, calendar, actor, None)
    versions.record_calendar(session=session, calendar=calendar, at=now or datetime.now(UTC))
    return calendar


def update_calendar(
    *,
    session: Session,
    calendar: SlaCalendar,
    data: CalendarUpdate,
    actor: User | None = None,
    now: datetime | None = None,
) -> SlaCalendar:
    """Change a calendar; a changed content is a new version in force from ``now``."""
    fields = _normalise_calendar_fields(data.model_dump(exclude_unset=True))
    for key in ("name", "timezone", "weekly_hours", "added_holidays", "removed_holidays"):
        if key in fields and fields[key] is None:
            raise UnprocessableEntity(f"{key} cannot be null")
    if "name" in fields:
        _unique_name(session, SlaCalendar, fields["name"], exclude_id=calendar.id)
    before = events_service.snapshot(calendar)
    for key, value in fields.items():
        setattr(calendar, key, value)
    _check_calendar(calendar)
    session.flush()
    _record(session, EntityType.sla_calendar, calendar, actor, before)
    versions.record_calendar(session=session, calendar=calendar, at=now or datetime.now(UTC))
    return calendar


def delete_calendar(*, session: Session, calendar: SlaCalendar, actor: User | None = None) -> None:
    users = session.scalars(select(SlaPolicy.name).where(SlaPolicy.calendar_id == calendar.id))
    names = sorted(users)
    if names:
        raise Conflict(
            f"The calendar is used by policies: {', '.join(names)}", policies=list(names)
        )
    before = events_service.snapshot(calendar)
    session.delete(calendar)
    session.flush()
    _record(session, EntityType.sla_calendar, calendar, actor, before, deleted=True)


# ---------------------------------------------------------------------------------------------
# Policies


def _label_key(value: str | None) -> str | None:
    return value.strip().casefold() if value is not None else None


def _check_policy(session: Session, policy: SlaPolicy) -> None:
    calendar = session.get(SlaCalendar, policy.calendar_id)
    if calendar is None:
        raise UnprocessableEntity(
            f"Calendar {policy.calendar_id} does not exist", field="calendar_id"
        )
    problem = calendar_problem(calendar)
    if problem is not None:
        raise UnprocessableEntity(
            f"Calendar {calendar.name!r} cannot time a policy: {problem}", field="calendar_id"
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


def create_policy(
    *, session: Session, data: PolicyCreate, actor: User | None, now: datetime | None = None
) -> SlaPolicy:
    """Create a policy; its first version is in force from ``now`` (default: the clock)."""
    _unique_name(session, SlaPolicy, data.name)
    fields = data.model_dump(mode="json")
    policy = SlaPolicy(**fields)
    _check_policy(session, policy)
    session.add(policy)
    session.flush()
    _record(session, EntityType.sla_policy, policy, actor, None)
    versions.record_policy(session=session, policy=policy, at=now or datetime.now(UTC))
    return policy


def update_policy(
    *,
    session: Session,
    policy: SlaPolicy,
    data: PolicyUpdate,
    actor: User | None,
    now: datetime | None = None,
) -> SlaPolicy:
    """Change a policy; a changed content is a new version in force from ``now``."""
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
    before = events_service.snapshot(policy)
    # Checked before anything is flushed: an unknown calendar is a 422, not a foreign-key error.
    with session.no_autoflush:
        for key, value in fields.items():
            setattr(policy, key, value)
        _check_policy(session, policy)
    session.flush()
    _record(session, EntityType.sla_policy, policy, actor, before)
    versions.record_policy(session=session, policy=policy, at=now or datetime.now(UTC))
    return policy


def delete_policy(*, session: Session, policy: SlaPolicy, actor: User | None = None) -> None:
    if session.scalar(select(SlaTimer.id).where(SlaTimer.policy_id == policy.id).limit(1)):
        raise Conflict("Timers use this policy; deactivate it instead (is_active false)")
    if session.scalar(
        select(SlaEscalationRule.id).where(SlaEscalationRule.policy_id == policy.id).limit(1)
    ):
        raise Conflict("Escalation rules refer to this policy; change or delete them first")
    before = events_service.snapshot(policy)
    session.delete(policy)
    session.flush()
    _record(session, EntityType.sla_policy, policy, actor, before, deleted=True)


def _pause_rules(pause_on: Sequence[dict[str, Any]]) -> tuple[timeline.PauseRule, ...]:
    return tuple(timeline.PauseRule(rule["state"], rule.get("hold_reason")) for rule in pause_on)


def _policy_rules(
    policies: Iterable[tuple[int, Any]], calendar_of: Callable[[Any], Any | None]
) -> list[timeline.PolicyRules]:
    """The replay's view of ``policies``: (policy id, a row or version with the policy's
    fields), one BusinessCalendar per calendar. ``calendar_of(policy)`` gives its calendar's
    stored fields, or None when there are none. A calendar that cannot be built gives its
    policies no calendar and the reason: their timers show the error."""
    calendars: dict[int, tuple[BusinessCalendar | None, str | None]] = {}
    rules = []
    for policy_id, policy in policies:
        if policy.calendar_id not in calendars:
            stored = calendar_of(policy)
            if stored is None:
                calendars[policy.calendar_id] = (
                    None,
                    f"calendar {policy.calendar_id} had no version in force",
                )
            else:
                try:
                    calendars[policy.calendar_id] = (to_business_calendar(stored), None)
                except ValueError as exc:
                    calendars[policy.calendar_id] = (None, str(exc))
        calendar, calendar_error = calendars[policy.calendar_id]
        rules.append(
            timeline.PolicyRules(
                id=policy_id,
                name=policy.name,
                calendar=calendar,
                calendar_error=calendar_error,
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


def active_policy_rules(*, session: Session) -> list[timeline.PolicyRules]:
    """The active policies as the live replay sees them (the configuration in force now). A
    stored calendar that cannot be built (saved before today's checks) gives its policies no
    calendar and the reason: their timers show the error, and the requests that touch them
    still work."""
    policies = session.scalars(select(SlaPolicy).where(SlaPolicy.is_active)).unique()
    return _policy_rules(
        ((policy.id, policy) for policy in policies), lambda policy: policy.calendar
    )


def policy_rules_at(*, session: Session, at: datetime) -> list[timeline.PolicyRules]:
    """The active policies as they were at ``at``: each policy's version in force then, with
    the version of its calendar in force then (docs/sla.md, "Versions")."""
    found = versions.policies_in_force(session=session, at=at)
    calendars = versions.calendars_in_force(
        session=session, calendar_ids=sorted({version.calendar_id for version in found}), at=at
    )
    return _policy_rules(
        ((version.policy_id, version) for version in found),
        lambda version: calendars.get(version.calendar_id),
    )


# ---------------------------------------------------------------------------------------------
# Escalation rules


def _check_rule(session: Session, rule: SlaEscalationRule) -> None:
    try:
        check_rule_fields(rule)
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from exc
    if rule.user_id is not None:
        user = auth_service.get_user(session=session, user_id=rule.user_id)
        if user is None:
            raise UnprocessableEntity(f"User {rule.user_id} does not exist", field="user_id")
        if not user.is_active and rule.is_active:
            raise UnprocessableEntity(f"User {rule.user_id} is inactive", field="user_id")
    team = auth_service.get_team(session=session, team_id=rule.team_id) if rule.team_id else None
    if rule.team_id is not None and team is None:
        raise UnprocessableEntity(f"Team {rule.team_id} does not exist", field="team_id")
    if team is not None and not team.is_active and rule.is_active:
        # It could never act: reassigning to an inactive team is refused, notices go nowhere.
        raise UnprocessableEntity(f"Team {team.name!r} is inactive", field="team_id")
    if rule.policy_id is not None and session.get(SlaPolicy, rule.policy_id) is None:
        raise UnprocessableEntity(f"Policy {rule.policy_id} does not exist", field="policy_id")


def get_rule(*, session: Session, rule_id: int) -> SlaEscalationRule:
    rule = session.get(SlaEscalationRule, rule_id)
    if rule is None:
        raise NotFound(f"Escalation rule {rule_id} does not exist")
    return rule


def list_rules(
    *,
    session: Session,
    params: PageParams,
    is_active: bool | None = None,
    record_type: RecordType | None = None,
) -> Page[Any]:
    statement = select(SlaEscalationRule)
    if is_active is not None:
        statement = statement.where(SlaEscalationRule.is_active == is_active)
    if record_type is not None:
        statement = statement.where(SlaEscalationRule.record_type == record_type)
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


def create_rule(
    *, session: Session, data: EscalationRuleCreate, actor: User | None = None
) -> SlaEscalationRule:
    _unique_name(session, SlaEscalationRule, data.name)
    fields = data.model_dump(mode="json")
    if fields["threshold"] is None:  # a request_approval rule: its alert is the reminder
        fields["threshold"] = BREACH_THRESHOLD
    rule = SlaEscalationRule(**fields)
    _check_rule(session, rule)
    session.add(rule)
    session.flush()
    _record(session, EntityType.sla_escalation_rule, rule, actor, None)
    return rule


def update_rule(
    *,
    session: Session,
    rule: SlaEscalationRule,
    data: EscalationRuleUpdate,
    actor: User | None = None,
) -> SlaEscalationRule:
    fields = data.model_dump(mode="json", exclude_unset=True)
    for key in ("name", "is_active", "threshold", "action"):
        if key in fields and fields[key] is None:
            raise UnprocessableEntity(f"{key} cannot be null")
    if "name" in fields:
        _unique_name(session, SlaEscalationRule, fields["name"], exclude_id=rule.id)
    before = events_service.snapshot(rule)
    # Checked before anything is flushed: an unknown team or policy is a 422, not a key error.
    with session.no_autoflush:
        for key, value in fields.items():
            setattr(rule, key, value)
        _check_rule(session, rule)
    session.flush()
    _record(session, EntityType.sla_escalation_rule, rule, actor, before)
    return rule


def delete_rule(*, session: Session, rule: SlaEscalationRule, actor: User | None = None) -> None:
    if session.scalar(select(SlaEscalation.id).where(SlaEscalation.rule_id == rule.id).limit(1)):
        raise Conflict("This rule has fired; deactivate it instead (is_active false)")
    before = events_service.snapshot(rule)
    session.delete(rule)
    session.flush()
    _record(session, EntityType.sla_escalation_rule, rule, actor, before, deleted=True)
