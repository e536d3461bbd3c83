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
