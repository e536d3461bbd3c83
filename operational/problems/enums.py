from enum import StrEnum


class ProblemState(StrEnum):
    new = "new"
    assessed = "assessed"
    root_cause_analysis = "root_cause_analysis"
    fix_in_progress = "fix_in_progress"
    resolved = "resolved"
    closed = "closed"


OPEN_STATES = frozenset(
    {
        ProblemState.new,
        ProblemState.assessed,
        ProblemState.root_cause_analysis,
        ProblemState.fix_in_progress,
    }
)


class RootCauseCategory(StrEnum):
    """What kind of cause it was; the marts count recurrence and time to fix by it."""

    software = "software"
    hardware = "hardware"
    configuration = "configuration"
    capacity = "capacity"
    network = "network"
    third_party = "third_party"
    process = "process"
    human_error = "human_error"
    security = "security"
    unknown = "unknown"


class CandidateDimension(StrEnum):
    """What the incidents of a candidate group share."""

    ci = "ci"
    service = "service"
    category = "category"
