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
    cost_center = "cost_center"
    catalog_item = "catalog_item"
    request = "request"
    request_item = "request_item"
    request_task = "request_task"
    problem = "problem"
    knowledge_article = "knowledge_article"
    # Configuration: each change is a created / field_changed / deleted event with data.before
    # and data.after (events.service.record_change).
    sla_calendar = "sla_calendar"
    sla_escalation_rule = "sla_escalation_rule"
    assignment_rule = "assignment_rule"
    cab_rule = "cab_rule"  # entity_id: 1 normal, 2 emergency (the rule's change type)
    change_template = "change_template"
    blackout_window = "blackout_window"
    ci_class = "ci_class"
    custom_field = "custom_field"  # a custom field definition (operational.customfields)
    automation_rule = "automation_rule"


class EventKind(StrEnum):
    """What happened. ``field``, ``old_value`` and ``new_value`` carry the detail.

    - created: the record came to be (new_value: its number or name)
    - deleted: a configuration record was deleted (data.before: its last values)
    - field_changed: any field not covered by a more specific kind
    - state_changed: field 'state'; a reopen is a state_changed out of resolved/closed
    - assigned: field 'assignment_group' or 'assignee'
    - priority_changed: field 'priority' (data.reason when overridden)
    - comment_added / work_note_added: public comment / agent-only note (data.comment_id)
    - sla_*: an SLA timer transition (field: the timer's target type)
    - escalated: an escalation rule fired (data.rule_id, data.action)
    - csat_answered: the requester answered the satisfaction survey
    - approval_decided: a CAB member approved or rejected a change; an approver (or their
      delegate) approved or rejected a request item (data: approval, stage, policy version)
    - approval_requested / approval_skipped / approval_reminded / approval_escalated: a request
      item's approval stage asked its approvers, was skipped by its condition, or waited past its
      reminder / escalation period
    - delegated: an approver handed their approvals to someone else for a period
    - approval_decided: a CAB member approved or rejected a change; a reviewer approved or
      rejected a knowledge article's revision
    - notified: a notification for the record's people was recorded (data.reason, e.g.
      problem_resolved); delivering it is a notifications domain's work
    - article_used: a knowledge article helped with an incident (data.incident_id, resolved)
    - feedback_given: a reader marked a knowledge article helpful or not (new_value true/false)
    - csat_answered: the satisfaction survey was answered (by the requester, or through its link)
    - approval_decided: a CAB member approved or rejected a change
    - relationship_added / relationship_removed: a CI relationship
    - downloaded: a compliance export file was downloaded
    - automation_loop_cut: a chain of automation rules was cut at its maximum depth
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
    approval_requested = "approval_requested"
    approval_skipped = "approval_skipped"
    approval_reminded = "approval_reminded"
    approval_escalated = "approval_escalated"
    delegated = "delegated"
    relationship_added = "relationship_added"
    relationship_removed = "relationship_removed"
    downloaded = "downloaded"
    user_created = "user_created"
    user_roles_changed = "user_roles_changed"
    user_mfa_enabled = "user_mfa_enabled"
    user_logged_in = "user_logged_in"
    user_deactivated = "user_deactivated"
    notified = "notified"
    article_used = "article_used"
    feedback_given = "feedback_given"
    deleted = "deleted"
    # An automation rule's chain went deeper than the engine allows: cut there (data.rule_id,
    # data.chain: the rule ids in order).
    automation_loop_cut = "automation_loop_cut"
