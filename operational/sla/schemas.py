import re
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.sla.enums import (
    ACTIONS_BY_RECORD_TYPE,
    BREACH_THRESHOLD,
    EscalationAction,
    RecordType,
    TimerState,
    TimerTarget,
    Weekday,
)
from operational.tickets.enums import HoldReason, IncidentState

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label120 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Label200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Priority = Annotated[int, Field(ge=1, le=5, description="1 (P1, critical) .. 5")]
Minutes = Annotated[int, Field(gt=0, le=5_256_000, description="Business minutes (max 10 years)")]

_WINDOW = re.compile(r"^(?P<start>([01]\d|2[0-3]):[0-5]\d)-(?P<end>([01]\d|2[0-3]):[0-5]\d|24:00)$")
# States in which a timer may pause. Resolved stops the resolution clock by definition.
PAUSABLE_STATES = (
    IncidentState.new,
    IncidentState.assigned,
    IncidentState.in_progress,
    IncidentState.on_hold,
)


def _check_weekly_hours(value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
    for day, windows in value.items():
        for window in windows:
            match = _WINDOW.match(window)
            if match is None:
                raise ValueError(
                    f"{day.value}: {window!r} is not a window like '09:00-17:00' "
                    "(24-hour clock; '24:00' may end a day)"
                )
            if match["start"] >= match["end"]:
                raise ValueError(f"{day.value}: {window!r} ends before it starts")
    return value


WeeklyHours = Annotated[
    dict[Weekday, list[str]],
    Field(
        description="Working windows per weekday, e.g. {'monday': ['09:00-12:00', '13:00-17:00']};"
        " a missing or empty day has no working time; '00:00-24:00' is the whole day",
        examples=[{"monday": ["09:00-17:00"], "tuesday": ["09:00-17:00"]}],
    ),
]


class CalendarCreate(RequestBody):
    name: Name
    description: str | None = None
    timezone: str = Field(description="IANA time zone, e.g. Europe/Amsterdam")
    weekly_hours: WeeklyHours
    holiday_country: str | None = Field(
        None, max_length=8, description="ISO 3166 country of the public holidays, e.g. NL"
    )
    holiday_subdivision: str | None = Field(None, max_length=16, description="e.g. NY for US")
    added_holidays: list[date] = Field(default_factory=list)
    removed_holidays: list[date] = Field(default_factory=list)

    _weekly = field_validator("weekly_hours")(_check_weekly_hours)


class CalendarUpdate(RequestBody):
    name: Name | None = None
    description: str | None = None
    timezone: str | None = None
    weekly_hours: WeeklyHours | None = None
    holiday_country: str | None = Field(None, max_length=8)
    holiday_subdivision: str | None = Field(None, max_length=16)
    added_holidays: list[date] | None = None
    removed_holidays: list[date] | None = None

    @field_validator("weekly_hours")
    @classmethod
    def _weekly(cls, value: dict[Weekday, list[str]] | None) -> dict[Weekday, list[str]] | None:
        return None if value is None else _check_weekly_hours(value)


class CalendarRead(ReadModel):
    id: int
    name: str
    description: str | None
    timezone: str
    weekly_hours: dict[str, list[str]]
    holiday_country: str | None
    holiday_subdivision: str | None
    added_holidays: list[date]
    removed_holidays: list[date]
    created_at: datetime
    updated_at: datetime


CalendarPage = Page[CalendarRead]


class CalendarVersionRead(ReadModel):
    """One version of a calendar, in force from ``valid_from`` (null: since the beginning)
    until ``valid_to`` (null: still in force)."""

    calendar_id: int
    version: int
    valid_from: datetime | None
    valid_to: datetime | None
    name: str
    timezone: str
    weekly_hours: dict[str, list[str]]
    holiday_country: str | None
    holiday_subdivision: str | None
    added_holidays: list[date]
    removed_holidays: list[date]


CalendarVersionPage = Page[CalendarVersionRead]


class PauseCondition(RequestBody):
    state: IncidentState = Field(description="An open state: new, assigned, in_progress, on_hold")
    hold_reason: HoldReason | None = Field(
        None, description="Only with state on_hold; null pauses on any hold reason"
    )

    @model_validator(mode="after")
    def _open_state(self) -> "PauseCondition":
        if self.state not in PAUSABLE_STATES:
            raise ValueError(
                f"state {self.state.value!r} cannot pause a timer; "
                f"allowed: {', '.join(s.value for s in PAUSABLE_STATES)}"
            )
        if self.hold_reason is not None and self.state != IncidentState.on_hold:
            raise ValueError("hold_reason only applies to state on_hold")
        return self


DEFAULT_PAUSE_ON = [{"state": "on_hold", "hold_reason": "awaiting_caller"}]
DEFAULT_WARNING_THRESHOLDS = [75, 90]


def _check_thresholds(value: list[int]) -> list[int]:
    if len(set(value)) != len(value):
        raise ValueError("warning thresholds must be distinct")
    return sorted(value)


Thresholds = Annotated[
    list[Annotated[int, Field(ge=1, le=99)]],
    Field(description="Percentages of the target at which to warn, e.g. [75, 90]"),
]


class PolicyCreate(RequestBody):
    name: Name
    description: str | None = None
    is_active: bool = True
    priority: Priority | None = Field(None, description="Applies to this priority; null: any")
    service: Label200 | None = Field(None, description="Applies to this service; null: any")
    category: Label120 | None = Field(None, description="Applies to this category; null: any")
    calendar_id: int
    response_minutes: Minutes = Field(description="First-response target, business minutes")
    resolution_minutes: Minutes = Field(description="Resolution target, business minutes")
    pause_on: list[PauseCondition] = Field(
        default_factory=lambda: [PauseCondition.model_validate(c) for c in DEFAULT_PAUSE_ON]
    )
    warning_thresholds: Thresholds = Field(default_factory=lambda: list(DEFAULT_WARNING_THRESHOLDS))

    _thresholds = field_validator("warning_thresholds")(_check_thresholds)


class PolicyUpdate(RequestBody):
    name: Name | None = None
    description: str | None = None
    is_active: bool | None = None
    priority: Priority | None = None
    service: Label200 | None = None
    category: Label120 | None = None
    calendar_id: int | None = None
    response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    pause_on: list[PauseCondition] | None = None
    warning_thresholds: Thresholds | None = None

    @field_validator("warning_thresholds")
    @classmethod
    def _thresholds(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else _check_thresholds(value)


class PolicyRead(ReadModel):
    id: int
    name: str
    description: str | None
    is_active: bool
    priority: int | None
    service: str | None
    category: str | None
    calendar_id: int
    response_minutes: int
    resolution_minutes: int
    pause_on: list[dict[str, str | None]]
    warning_thresholds: list[int]
    created_at: datetime
    updated_at: datetime


PolicyPage = Page[PolicyRead]


class PolicyVersionRead(ReadModel):
    """One version of a policy, in force from ``valid_from`` (null: since the beginning) until
    ``valid_to`` (null: still in force)."""

    policy_id: int
    version: int
    valid_from: datetime | None
    valid_to: datetime | None
    name: str
    is_active: bool
    priority: int | None
    service: str | None
    category: str | None
    calendar_id: int
    response_minutes: int
    resolution_minutes: int
    pause_on: list[dict[str, str | None]]
    warning_thresholds: list[int]


PolicyVersionPage = Page[PolicyVersionRead]


class EscalationRuleCreate(RequestBody):
    name: Name
    description: str | None = None
    is_active: bool = True
    record_type: RecordType = Field(
        RecordType.incident,
        description="incident (the default), or request_approval: the rule fires delay_minutes"
        " after a waiting approval's reminder",
    )
    threshold: int | None = Field(
        None,
        ge=1,
        le=BREACH_THRESHOLD,
        description="Fires once a timer has used this percentage of its target; 100: breached."
        " Required for incident rules; request_approval rules: 100 (the reminder period run out)",
    )
    target: TimerTarget | None = Field(None, description="response, resolution or null (both)")
    priority: Priority | None = Field(None, description="Only incidents of this priority")
    policy_id: int | None = Field(None, description="Only timers under this policy")
    action: EscalationAction
    team_id: int | None = Field(
        None, description="reassign: the team to move to (required); notify: the team to tell"
    )
    raise_to_priority: Priority | None = Field(
        None, description="raise_priority: the priority to raise to; null raises one level"
    )
    delay_minutes: int | None = Field(
        None,
        ge=0,
        le=5_256_000,
        description="request_approval rules: business minutes after the reminder (on the item's"
        " calendar) before the rule fires; null: at the reminder",
    )
    user_id: int | None = Field(
        None,
        description="request_approval rules: escalate: who may decide in the approver's place"
        " (null: the approver's manager); notify: who to tell (null: the team, else the manager)",
    )

    @model_validator(mode="after")
    def _action_fields(self) -> "EscalationRuleCreate":
        if self.threshold is None and self.record_type == RecordType.incident:
            raise ValueError("an incident rule needs a threshold")
        check_rule_fields(self)
        return self


def check_rule_fields(rule: object) -> None:
    """What a rule's fields must agree on (its record type, its action and their options);
    ``rule`` is a body or the stored rule. Raises ValueError naming the first disagreement."""
    record_type = RecordType(getattr(rule, "record_type", None) or RecordType.incident)
    action = getattr(rule, "action", None)
    if action is not None and EscalationAction(action) not in ACTIONS_BY_RECORD_TYPE[record_type]:
        allowed = ", ".join(sorted(ACTIONS_BY_RECORD_TYPE[record_type]))
        raise ValueError(f"a {record_type} rule's action is one of: {allowed}")
    _check_action(action, getattr(rule, "team_id", None), getattr(rule, "raise_to_priority", None))
    if record_type == RecordType.incident:
        for field in ("delay_minutes", "user_id"):
            if getattr(rule, field, None) is not None:
                raise ValueError(f"{field} applies to request_approval rules only")
    else:
        for field in ("target", "priority", "policy_id"):
            if getattr(rule, field, None) is not None:
                raise ValueError(f"{field} applies to incident rules only")
        threshold = getattr(rule, "threshold", None)
        if threshold is not None and threshold != BREACH_THRESHOLD:
            raise ValueError("a request_approval rule's threshold is 100: the reminder is due")


def _check_action(
    action: EscalationAction | str | None, team_id: int | None, raise_to_priority: int | None
) -> None:
    if action == EscalationAction.reassign and team_id is None:
        raise ValueError("a reassign rule needs team_id")
    if raise_to_priority is not None and action != EscalationAction.raise_priority:
        raise ValueError("raise_to_priority only applies to raise_priority rules")


class EscalationRuleUpdate(RequestBody):
    name: Name | None = None
    description: str | None = None
    is_active: bool | None = None
    threshold: int | None = Field(None, ge=1, le=BREACH_THRESHOLD)
    target: TimerTarget | None = None
    priority: Priority | None = None
    policy_id: int | None = None
    action: EscalationAction | None = None
    team_id: int | None = None
    raise_to_priority: Priority | None = None
    delay_minutes: int | None = Field(None, ge=0, le=5_256_000)
    user_id: int | None = None


class EscalationRuleRead(ReadModel):
    id: int
    name: str
    description: str | None
    is_active: bool
    record_type: RecordType
    threshold: int
    target: TimerTarget | None
    priority: int | None
    policy_id: int | None
    action: EscalationAction
    team_id: int | None
    raise_to_priority: int | None
    delay_minutes: int | None
    user_id: int | None
    created_at: datetime
    updated_at: datetime


EscalationRulePage = Page[EscalationRuleRead]


class SlaTimerRead(ReadModel):
    """One SLA timer of an incident, as shown in incident responses and /sla/timers."""

    id: int
    incident_id: int
    target: TimerTarget
    policy_id: int
    policy_name: str
    target_minutes: int = Field(description="Target in business minutes")
    started_at: datetime
    due_at: datetime | None = Field(description="Null while the clock is paused")
    elapsed_minutes: float = Field(description="Business minutes counted, as of computed_at")
    paused_minutes: float = Field(description="Business minutes the clock stood still")
    state: TimerState
    completed_at: datetime | None
    breached_at: datetime | None
    warnings_fired: list[int]
    computed_at: datetime
    error: str | None = Field(
        description="State error: why the timer cannot be computed (its calendar cannot be used)"
    )


SlaTimerPage = Page[SlaTimerRead]


class EscalationRead(ReadModel):
    id: int
    rule_id: int
    timer_id: int | None = Field(description="Null for records without timers (approvals)")
    record_type: RecordType
    record_id: int
    incident_id: int | None = Field(description="The incident, when the record is one")
    action: EscalationAction
    outcome: str
    detail: dict | None
    fired_at: datetime


EscalationPage = Page[EscalationRead]


class NotificationRead(ReadModel):
    id: int
    escalation_id: int
    record_type: RecordType
    record_id: int
    incident_id: int | None = Field(description="The incident, when the record is one")
    recipient_team_id: int | None
    recipient_user_id: int | None
    subject: str
    body: str
    created_at: datetime
    delivered_at: datetime | None


NotificationPage = Page[NotificationRead]
