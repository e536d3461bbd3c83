from enum import StrEnum


class RequestState(StrEnum):
    """A request: open while any of its items is; closed when all are finished."""

    open = "open"
    closed = "closed"
    cancelled = "cancelled"


class ItemState(StrEnum):
    """A request item (RITM) through approval and fulfilment (docs/requests.md, "Workflow")."""

    pending_approval = "pending_approval"
    in_fulfilment = "in_fulfilment"
    awaiting_requester = "awaiting_requester"
    delivered = "delivered"
    rejected = "rejected"
    cancelled = "cancelled"


FINISHED_ITEM_STATES = frozenset({ItemState.delivered, ItemState.rejected, ItemState.cancelled})


class TaskState(StrEnum):
    """A fulfilment task: pending until the tasks before it (in order) are closed."""

    pending = "pending"
    open = "open"
    in_progress = "in_progress"
    closed = "closed"
    cancelled = "cancelled"


FINISHED_TASK_STATES = frozenset({TaskState.closed, TaskState.cancelled})


class StageState(StrEnum):
    waiting = "waiting"  # an earlier stage has not ended yet
    pending = "pending"  # its approvers are asked
    approved = "approved"
    rejected = "rejected"
    skipped = "skipped"  # its condition did not hold
    cancelled = "cancelled"  # the item ended before the stage did


class ApprovalState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    # The stage was decided without this approver (one of many sufficed, or the item ended).
    not_required = "not_required"


class ApproverKind(StrEnum):
    manager = "manager"  # the requester's manager
    cost_center_owner = "cost_center_owner"  # the owner of the requester's cost centre
    team = "team"  # the members of a team
    users = "users"  # named people


class ApprovalRule(StrEnum):
    one = "one"  # the first approval decides
    all = "all"  # every approver must approve
    quorum = "quorum"  # ``quorum`` approvals decide


class PlanMode(StrEnum):
    sequential = "sequential"  # each task opens when the one before it closes
    parallel = "parallel"  # all tasks open at once


class ConditionOperator(StrEnum):
    gt = "gt"
    gte = "gte"
    lt = "lt"
    lte = "lte"
    eq = "eq"
    ne = "ne"
    in_ = "in"


class ClockState(StrEnum):
    """The delivery clock, as the SLA engine's timers name their states."""

    running = "running"
    paused = "paused"
    met = "met"
    breached = "breached"
    cancelled = "cancelled"


class MessageKind(StrEnum):
    """What one message of an item's conversation with its requester is."""

    question = "question"  # the fulfiller put the item on hold for the requester, saying why
    reply = "reply"  # the requester's answer
    cancelled = "cancelled"  # the fulfiller cancelled the item, saying why
