from enum import StrEnum

# The lifecycle vocabulary lives below incidents and SLA, which both name it.
from operational.core.surveys import SurveyChannel
from operational.tickets.enums import OPEN_STATES, HoldReason, IncidentState

__all__ = [
    "OPEN_STATES",
    "AssignmentStrategy",
    "Channel",
    "HoldReason",
    "IncidentState",
    "NativeHoldReason",
    "ResolutionCode",
    "SurveyChannel",
]


class Channel(StrEnum):
    phone = "phone"
    email = "email"
    portal = "portal"
    chat = "chat"
    walk_in = "walk_in"
    monitoring = "monitoring"


# Impact and urgency: 1 high, 2 medium, 3 low.
IMPACT_URGENCY_VALUES = (1, 2, 3)
PRIORITY_VALUES = (1, 2, 3, 4, 5)


class NativeHoldReason(StrEnum):
    """The hold reasons offered when an agent puts an incident on hold through the API."""

    awaiting_caller = "awaiting_caller"
    awaiting_vendor = "awaiting_vendor"
    awaiting_change = "awaiting_change"


class ResolutionCode(StrEnum):
    solved_permanently = "solved_permanently"
    solved_workaround = "solved_workaround"
    solved_remotely = "solved_remotely"
    not_solved_not_reproducible = "not_solved_not_reproducible"
    not_solved_too_costly = "not_solved_too_costly"
    resolved_by_caller = "resolved_by_caller"
    duplicate = "duplicate"


class AssignmentStrategy(StrEnum):
    """How auto-assignment picks a member within a team (``Team.assignment_strategy``)."""

    round_robin = "round_robin"
    least_loaded = "least_loaded"
