-- Every request item with its request, catalog item, team, approval shape and delivery verdict:
-- the figures the request marts add up. One row per request item. Business minutes are the
-- Python SLA engine's (stored on the item); calendar minutes the service's.

with stages as (
    select
        request_item_id,
        count(distinct stage_position) as approval_stage_count,
        count(*) filter (where is_decided) as decision_count,
        max(decided_at) as last_decided_at
    from {{ ref('stg_operational__request_approvals') }}
    group by request_item_id
)

select
    items.request_item_id,
    items.request_item_number,
    items.line::smallint as line,
    items.request_id,
    requests.request_number,
    requests.requester_id,
    items.catalog_item_id,
    items.item_name as catalog_item_name,
    items.item_version,
    coalesce(catalog.category_name, '(none)')::varchar(120) as category_name,
    items.fulfilment_team_id as team_id,
    coalesce(teams.team_name, '(none)')::varchar(200) as team_name,
    items.quantity,
    items.cost::numeric(14, 2) as cost,
    items.item_state,
    items.opened_at,
    {{ reporting_date("items.opened_at") }} as opened_date,
    items.approved_at,
    items.delivered_at,
    {{ reporting_date("items.delivered_at") }} as delivered_date,
    items.closed_at,
    {{ reporting_date("items.closed_at") }} as closed_date,
    items.is_delivered,
    items.is_rejected,
    items.is_cancelled,
    items.is_open,
    items.rejection_reason,
    coalesce(stages.approval_stage_count, 0)::integer as approval_stage_count,
    coalesce(stages.decision_count, 0)::integer as approval_decision_count,
    -- Order to delivery: calendar minutes, and business minutes (the delivery clock, which
    -- counts approval wait and fulfilment work but not the time waiting for the requester).
    (case when items.is_delivered
        then extract(epoch from items.delivered_at - items.opened_at) / 60 end)::numeric(14, 2)
        as minutes_to_deliver,
    (case when items.is_delivered then items.sla_elapsed_minutes end)::numeric(14, 2)
        as business_minutes_to_deliver,
    items.approval_wait_minutes::numeric(14, 2) as approval_wait_minutes,
    items.approval_wait_business_minutes::numeric(14, 2) as approval_wait_business_minutes,
    items.fulfilment_minutes::numeric(14, 2) as fulfilment_minutes,
    items.fulfilment_business_minutes::numeric(14, 2) as fulfilment_business_minutes,
    items.sla_paused_minutes::numeric(14, 2) as requester_wait_business_minutes,
    items.sla_target_minutes,
    items.sla_state,
    items.sla_due_at,
    items.sla_breached_at,
    -- Delivered within its target; null until delivered (rejected and cancelled items have no
    -- verdict).
    case when items.is_delivered then items.sla_state = 'met' end as delivery_sla_met,
    items.source_system,
    items.created_at
from {{ ref('stg_operational__request_items') }} as items
inner join {{ ref('stg_operational__requests') }} as requests
    on requests.request_id = items.request_id
left join {{ ref('stg_operational__catalog_items') }} as catalog
    on catalog.catalog_item_id = items.catalog_item_id
left join {{ ref('stg_operational__teams') }} as teams
    on teams.team_id = items.fulfilment_team_id
left join stages
    on stages.request_item_id = items.request_item_id
