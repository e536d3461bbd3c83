from enum import StrEnum


class EntityType(StrEnum):
    incident = "incident"
    change = "change"
    ci = "ci"
    ci_relationship = "ci_relationship"
    user = "user"
    team = "team"
    export = "export"
    sla_policy = "sla_policy"


class EventKind(StrEnum):
    """What happened. ``field``, ``old_value`` and ``new_value`` carry the detail.

    - created: the record came to be (new_value: its number or name)
    - field_changed: any field not covered by a more specific kind
    - state_changed: field 'state'; a reopen is a state_changed out of resolved/closed
    - assigned: field 'assignment_group' or 'assignee'
    - priority_changed: field 'priority' (data.reason when overridden)
    - comment_added / work_note_added: public comment / agent-only note (data.comment_id)
    - sla_*: an SLA timer transition (field: the timer's target type)
    - escalated: an escalation rule fired (data.rule_id, data.action)
    - csat_answered: the satisfaction survey was answered (by the requester, or through its link)
    - approval_decided: a CAB member approved or rejected a change
    - relationship_added / relationship_removed: a CI relationship
    - downloaded: a compliance export file was downloaded
    - user_*: account administration (created, roles changed, MFA enrolled, logged in)
    """

    created = "created"
    field_changed = "field_changed"
    state_changed = "state_changed"
    assigned = "assigned"
    priority_changed = "priority_changed"
    comment_added = "comment_added"
    work_note_added = "work_note_added"
    sla_started = "sla_started"
    sla_paused = "sla_paused"
    sla_resumed = "sla_resumed"
    sla_warning = "sla_warning"
    sla_breached = "sla_breached"
    sla_met = "sla_met"
    sla_cancelled = "sla_cancelled"
    sla_retargeted = "sla_retargeted"
    escalated = "escalated"
    csat_answered = "csat_answered"
    approval_decided = "approval_decided"
    relationship_added = "relationship_added"
    relationship_removed = "relationship_removed"
    downloaded = "downloaded"
    user_created = "user_created"
    user_roles_changed = "user_roles_changed"
    user_mfa_enabled = "user_mfa_enabled"
    user_logged_in = "user_logged_in"
    user_deactivated = "user_deactivated"
