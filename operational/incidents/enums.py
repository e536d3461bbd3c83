from enum import StrEnum


class IncidentState(StrEnum):
    new = "new"
    assigned = "assigned"
    in_progress = "in_progress"
    on_hold = "on_hold"
    resolved = "resolved"
    closed = "closed"
    cancelled = "cancelled"


OPEN_STATES = frozenset(
    {IncidentState.new, IncidentState.assigned, IncidentState.in_progress, IncidentState.on_hold}
)


class HoldReason(StrEnum):
    awaiting_caller = "awaiting_caller"
    awaiting_vendor = "awaiting_vendor"
    awaiting_change = "awaiting_change"
    # Seen in imports from ServiceNow; not offered for native holds.
    awaiting_problem = "awaiting_problem"
    awaiting_evidence = "awaiting_evidence"


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
