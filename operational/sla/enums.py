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


class EscalationAction(StrEnum):
    notify = "notify"  # record a notification (delivered by a later issue)
    reassign = "reassign"  # move the incident to a team
    raise_priority = "raise_priority"  # one level up, or to a given priority


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
