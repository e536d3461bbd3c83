"""The problem state machine. One table, read by the service and shown in docs/problems.md."""

from operational.problems.enums import ProblemState

S = ProblemState

ALLOWED_TRANSITIONS: dict[ProblemState, tuple[ProblemState, ...]] = {
    S.new: (S.assessed, S.closed),
    S.assessed: (S.root_cause_analysis, S.closed),
    S.root_cause_analysis: (S.fix_in_progress, S.closed),
    # Back to analysis when the fix shows the cause was another.
    S.fix_in_progress: (S.root_cause_analysis, S.resolved, S.closed),
    # Back to fixing when the fix did not hold (a reopen).
    S.resolved: (S.closed, S.fix_in_progress),
    S.closed: (),
}

# Entering these needs the fields named (the service answers 422 naming the missing ones).
REQUIRES: dict[ProblemState, tuple[str, ...]] = {
    S.fix_in_progress: ("root_cause",),
    S.resolved: ("root_cause", "fix_notes"),
}


def allowed_from(state: str) -> list[str]:
    return [target.value for target in ALLOWED_TRANSITIONS[ProblemState(state)]]


def is_allowed(current: str, target: str) -> bool:
    return ProblemState(target) in ALLOWED_TRANSITIONS[ProblemState(current)]
