-- Approvals with their stage, renamed. One row per approval (one approver in one stage).
select
    approvals.id as approval_id,
    approvals.request_item_id,
    stages.position as stage_position,
    stages.name as stage_name,
    stages.rule as stage_rule,
    stages.quorum as stage_quorum,
    stages.state as stage_state,
    approvals.approver_id,
    approvals.state as approval_state,
    approvals.requested_at,
    approvals.decided_at,
    approvals.decided_by_id,
    approvals.comment,
    approvals.reminded_at,
    approvals.escalated_at,
    approvals.state in ('approved', 'rejected') as is_decided
from {{ source('operational', 'request_approvals') }} as approvals
inner join {{ source('operational', 'request_approval_stages') }} as stages
    on stages.id = approvals.stage_id
