-- Change approval evidence for auditors: every implemented change with its CAB approvals,
-- approvers and quorum, and the flags an auditor looks for. One row per implemented change.

select
    change_id,
    change_number,
    title,
    change_type,
    state,
    risk_level,
    team_name,
    requester_id,
    implementer_id,
    template_id,
    planned_start,
    planned_end,
    actual_start,
    actual_end,
    {{ reporting_date("actual_start") }} as implemented_date,
    authorization_round,
    authorization_rule,
    authorization_quorum,
    authorization_outcome,
    authorized_at,
    authorization_approved_count,
    authorization_rejected_count,
    authorization_decisions as approvers,
    -- The CAB's rule was met in the authorization that preceded implementation.
    coalesce(authorization_outcome = 'approved', false) as quorum_met,
    retrospective_outcome,
    retrospective_decided_at,
    retrospective_decisions as retrospective_approvers,
    conflict_override_reason,
    -- Standard changes are pre-approved through their template; others need the CAB.
    change_type <> 'standard' and coalesce(authorization_outcome, '') <> 'approved'
        as is_implemented_without_approval,
    planned_start is null
        or planned_end is null
        or actual_start < planned_start
        or coalesce(actual_end, actual_start) > planned_end
        as is_implemented_outside_window,
    is_scheduled_over_blackout or is_implemented_in_one_off_blackout as is_in_blackout,
    is_scheduled_over_blackout,
    is_implemented_in_one_off_blackout,
    change_type = 'emergency' and coalesce(retrospective_outcome, '') <> 'approved'
        as is_emergency_without_retrospective,
    review_outcome,
    caused_incident_count,
    source_system
from {{ ref('int_changes_evaluated') }}
where is_implemented
