-- Approval evidence for requests: every decision on a request item, who took it (and for whom),
-- when, with what comment, under which version of the item's approval policy. One row per
-- decided approval.

select
    approval_id,
    request_number,
    request_item_number,
    catalog_item_name,
    policy_version,
    stage_position,
    stage_name,
    stage_rule,
    requester_id,
    approver_id,
    approver_name,
    decided_by_id,
    decided_by_name,
    is_on_behalf,
    approval_state as decision,
    requested_at,
    decided_at,
    decided_date,
    comment
from {{ ref('fct_request_approvals') }}
where is_decided
