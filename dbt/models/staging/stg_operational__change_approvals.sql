-- CAB decisions, renamed. One row per decision (change, round, approver).
select
    id as approval_id,
    change_id,
    stage as approval_stage,
    round as cab_round,
    approver_id,
    decision,
    decision = 'approved' as is_approved,
    comment as decision_comment,
    decided_at
from {{ source('operational', 'change_approvals') }}
