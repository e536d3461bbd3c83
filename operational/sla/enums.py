from enum import StrEnum


class TimerTarget(StrEnum):
    """What a timer measures: the first agent touch, or the resolution."""

    response = "response"
    resolution = "resolution"


class TimerState(StrEnum):
    running = "running"
    paused = "paused"
    met = "met"
    breached = "breached"
    cancelled = "cancelled"
    # The policy's calendar cannot be used (no working time): the timer shows why, and is
    # computed again when the incident changes or the worker next looks (docs/sla.md).
    error = "error"


FINAL_TIMER_STATES = frozenset({TimerState.met, TimerState.breached, TimerState.cancelled})


class RecordType(StrEnum):
    """What an alert, escalation rule, escalation or notification is about: the record type
    beside the record id. Incidents' alerts come from their timers; a request approval's from
    its reminder period (docs/requests.md, "Reminders and escalation")."""

    incident = "incident"
    request_approval = "request_approval"


class EscalationAction(StrEnum):
    notify = "notify"  # record a notification, handed to the notifications outbox
    reassign = "reassign"  # move the incident to a team
    raise_priority = "raise_priority"  # one level up, or to a given priority
    escalate = "escalate"  # a request approval: its decision goes to the approver's manager too


# The actions each record type's rules may take.
ACTIONS_BY_RECORD_TYPE: dict[RecordType, frozenset[EscalationAction]] = {
    RecordType.incident: frozenset(
        {EscalationAction.notify, EscalationAction.reassign, EscalationAction.raise_priority}
    ),
    RecordType.request_approval: frozenset({EscalationAction.notify, EscalationAction.escalate}),
}


class Weekday(StrEnum):
    monday = "monday"
    tuesday = "tuesday"
    wednesday = "wednesday"
    thursday = "thursday"
    friday = "friday"
    saturday = "saturday"
    sunday = "sunday"


WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)  # index 0 = Monday, as datetime.weekday()

# A threshold of 100 percent is the breach itself.
BREACH_THRESHOLD = 100
