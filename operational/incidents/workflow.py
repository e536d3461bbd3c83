"""The incident state machine. One table, read by the service and shown in docs/incidents.md."""

from operational.incidents.enums import IncidentState

S = IncidentState

ALLOWED_TRANSITIONS: dict[IncidentState, tuple[IncidentState, ...]] = {
    S.new: (S.assigned, S.in_progress, S.cancelled),
    S.assigned: (S.in_progress, S.on_hold, S.resolved, S.cancelled),
    S.in_progress: (S.on_hold, S.resolved, S.cancelled),
    S.on_hold: (S.in_progress, S.resolved, S.cancelled),
    # Moving a resolved incident back to in_progress is a reopen.
    S.resolved: (S.closed, S.in_progress),
    S.closed: (),
    S.cancelled: (),
}

# States in which somebody must be assigned.
NEEDS_ASSIGNEE = frozenset({S.assigned, S.in_progress})


def allowed_from(state: str) -> list[str]:
    return [target.value for target in ALLOWED_TRANSITIONS[IncidentState(state)]]


def is_allowed(current: str, target: str) -> bool:
    return IncidentState(target) in ALLOWED_TRANSITIONS[IncidentState(current)]


def is_reopen(current: str, target: str) -> bool:
    return current == S.resolved and target == S.in_progress
