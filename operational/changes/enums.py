from enum import StrEnum

from operational.cmdb.enums import MAX_IMPACT_DEPTH

# Risk, collisions and notices follow relationships this far (the API's own maximum).
CHANGE_IMPACT_DEPTH = MAX_IMPACT_DEPTH


class ChangeType(StrEnum):
    standard = "standard"  # pre-approved, from a template: no CAB
    normal = "normal"  # assessed, then authorized by the CAB
    emergency = "emergency"  # emergency CAB (smaller quorum), then a retrospective review


class ChangeState(StrEnum):
    new = "new"
    assess = "assess"
    authorize = "authorize"  # waiting for the CAB
    scheduled = "scheduled"
    implement = "implement"
    review = "review"  # post-implementation review (PIR)
    closed = "closed"  # reviewed, successful
    failed = "failed"  # reviewed, the change failed
    backed_out = "backed_out"  # reviewed, the change was backed out
    cancelled = "cancelled"


TERMINAL_STATES = frozenset(
    {ChangeState.closed, ChangeState.failed, ChangeState.backed_out, ChangeState.cancelled}
)
# Plans, window and CIs are frozen once the CAB has seen them: send the change back to assess.
EDITABLE_STATES = frozenset({ChangeState.new, ChangeState.assess})
# States in which a change holds its slot on the calendar (collision checks).
SCHEDULED_STATES = frozenset({ChangeState.scheduled, ChangeState.implement})
# Shown by the calendar: everything that was scheduled at some point.
CALENDAR_STATES = frozenset(
    {
        ChangeState.scheduled,
        ChangeState.implement,
        ChangeState.review,
        ChangeState.closed,
        ChangeState.failed,
        ChangeState.backed_out,
    }
)
# "Upcoming" changes of a CI: not finished yet.
OPEN_STATES = frozenset(ChangeState) - TERMINAL_STATES - {ChangeState.review}

# The workflow by type. Leaving review happens through the PIR (see service.record_review).
TRANSITIONS: dict[ChangeType, dict[ChangeState, tuple[ChangeState, ...]]] = {
    ChangeType.standard: {
        ChangeState.new: (ChangeState.scheduled, ChangeState.cancelled),
        ChangeState.scheduled: (ChangeState.implement, ChangeState.cancelled),
        ChangeState.implement: (ChangeState.review,),
    },
    ChangeType.normal: {
        ChangeState.new: (ChangeState.assess, ChangeState.cancelled),
        ChangeState.assess: (ChangeState.authorize, ChangeState.cancelled),
        ChangeState.authorize: (ChangeState.scheduled, ChangeState.assess, ChangeState.cancelled),
        ChangeState.scheduled: (ChangeState.implement, ChangeState.assess, ChangeState.cancelled),
        ChangeState.implement: (ChangeState.review,),
    },
    ChangeType.emergency: {
        ChangeState.new: (ChangeState.authorize, ChangeState.cancelled),
        ChangeState.authorize: (ChangeState.scheduled, ChangeState.new, ChangeState.cancelled),
        ChangeState.scheduled: (ChangeState.implement, ChangeState.cancelled),
        ChangeState.implement: (ChangeState.review,),
    },
}


class ReviewOutcome(StrEnum):
    successful = "successful"
    failed = "failed"
    backed_out = "backed_out"


REVIEW_OUTCOME_STATE = {
    ReviewOutcome.successful: ChangeState.closed,
    ReviewOutcome.failed: ChangeState.failed,
    ReviewOutcome.backed_out: ChangeState.backed_out,
}


class ApprovalRule(StrEnum):
    all = "all"  # every eligible CAB member approves
    quorum = "quorum"  # N approvals
    any = "any"  # one approval


class ApprovalStage(StrEnum):
    authorization = "authorization"  # before scheduling
    retrospective = "retrospective"  # after an emergency change, before it closes


class Decision(StrEnum):
    approved = "approved"
    rejected = "rejected"


class CabOutcome(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class RiskLevel(StrEnum):
    low = "low"
    moderate = "moderate"
    high = "high"
    very_high = "very_high"


class NoticeKind(StrEnum):
    scheduled = "scheduled"  # advance notice to stakeholders
    started = "started"
    completed = "completed"
