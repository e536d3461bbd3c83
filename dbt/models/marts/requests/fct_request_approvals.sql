-- One row per approval (one approver in one stage of one request item), with who decided, on
-- whose behalf, under which policy version, and the turnaround, for drill-down and evidence.

select
    approvals.approval_id,
    approvals.request_item_id,
    items.request_item_number,
    items.request_id,
    items.request_number,
    items.requester_id,
    items.catalog_item_id,
    items.catalog_item_name,
    items.item_version as policy_version,
    approvals.stage_position::smallint as stage_position,
    approvals.stage_name,
    approvals.stage_rule,
    approvals.approver_id,
    approvers.display_name as approver_name,
    approvals.approval_state,
    approvals.is_decided,
    approvals.requested_at,
    approvals.decided_at,
    {{ reporting_date("approvals.decided_at") }} as decided_date,
    approvals.decided_by_id,
    deciders.display_name as decided_by_name,
    coalesce(approvals.decided_by_id <> approvals.approver_id, false) as is_on_behalf,
    approvals.comment,
    approvals.escalated_at is not null as was_escalated,
    -- Calendar minutes from the request of the approval to its decision.
    (case when approvals.is_decided
        then extract(epoch from approvals.decided_at - approvals.requested_at) / 60
    end)::numeric(14, 2) as turnaround_minutes
from {{ ref('stg_operational__request_approvals') }} as approvals
inner join {{ ref('int_request_items_measured') }} as items
    on items.request_item_id = approvals.request_item_id
left join {{ ref('stg_operational__users') }} as approvers
    on approvers.user_id = approvals.approver_id
left join {{ ref('stg_operational__users') }} as deciders
    on deciders.user_id = approvals.decided_by_id
