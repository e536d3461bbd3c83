from enum import StrEnum


class RecordType(StrEnum):
    """The records rules act on (one entry each in ``records.KINDS``)."""

    incident = "incident"
    change = "change"
    problem = "problem"
    request = "request"  # the service request (REQ), not its items


class TriggerKind(StrEnum):
    """When a rule is considered (``operational.tickets.hooks.Trigger`` names the same)."""

    created = "created"
    updated = "updated"  # any field changed; conditions say which (``changed``)
    commented = "commented"  # a comment or work note was added
    state_changed = "state_changed"
    sla_warning = "sla_warning"
    sla_breached = "sla_breached"
    schedule = "schedule"  # every ``every_minutes``, for the open records that match
    # A new incident that names no team, before ``created`` (and POST .../auto-assign): the
    # first matching route rule assigns it. The assignment-rule API manages such rules too.
    route = "route"


class Operator(StrEnum):
    eq = "eq"
    ne = "ne"
    in_ = "in"
    not_in = "not_in"
    gt = "gt"
    gte = "gte"
    lt = "lt"
    lte = "lte"
    contains = "contains"  # text contains (case-insensitive), or a list holds the value
    mentions = "mentions"  # text holds one of the words (a list or one) as a whole word
    is_empty = "is_empty"
    is_set = "is_set"


class AssignStrategy(StrEnum):
    team = "team"  # the team's own strategy (incidents.assignment)
    round_robin = "round_robin"
    least_loaded = "least_loaded"


class ManagedBy(StrEnum):
    """The API other than the automation API that owns a rule (it alone changes it)."""

    assignment_rules = "assignment_rules"  # /api/v1/assignment-rules


class RunOutcome(StrEnum):
    fired = "fired"  # the conditions matched and every action ran
    failed = "failed"  # an action failed: the rule's actions were undone, the change stands
    loop_cut = "loop_cut"  # the rule would have fired deeper than the chain limit
