{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="request_item_id",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
            {"columns": ["delivered_date"]},
            {"columns": ["opened_date"]},
        ],
    )
}}

-- depends_on: {{ ref('stg_operational__events') }}
-- One row per request item with every figure, for drill-down from any request metric.
-- Incremental: an item is rebuilt whole when any event of it, of its request, of its team or of
-- its catalog item was recorded since the watermark, so an incremental run equals a full refresh.

{% if is_incremental() %}
with scope as (
    select entity_id as request_item_id
    from {{ ref('stg_operational__events') }}
    where entity_type = 'request_item' and recorded_at >= {{ incremental_since() }}
    union
    select items.request_item_id
    from {{ ref('int_request_items_measured') }} as items
    inner join {{ ref('stg_operational__events') }} as related
        on (related.entity_type = 'request' and related.entity_id = items.request_id)
        or (related.entity_type = 'team' and related.entity_id = items.team_id)
        or (related.entity_type = 'catalog_item' and related.entity_id = items.catalog_item_id)
    where related.recorded_at >= {{ incremental_since() }}
    union
    select request_item_id
    from {{ ref('int_request_items_measured') }}
    where created_at >= {{ incremental_since() }}
)
{% endif %}

select
    request_item_id,
    request_item_number,
    line,
    request_id,
    request_number,
    requester_id,
    catalog_item_id,
    catalog_item_name,
    item_version,
    category_name,
    team_id,
    team_name,
    quantity,
    cost,
    item_state,
    opened_at,
    opened_date,
    approved_at,
    delivered_at,
    delivered_date,
    closed_at,
    closed_date,
    is_delivered,
    is_rejected,
    is_cancelled,
    is_open,
    rejection_reason,
    approval_stage_count,
    approval_decision_count,
    minutes_to_deliver,
    business_minutes_to_deliver,
    approval_wait_minutes,
    approval_wait_business_minutes,
    fulfilment_minutes,
    fulfilment_business_minutes,
    requester_wait_business_minutes,
    sla_target_minutes,
    sla_state,
    sla_due_at,
    sla_breached_at,
    delivery_sla_met,
    source_system,
    ({{ run_watermark() }}) as loaded_watermark
from {{ ref('int_request_items_measured') }}
{% if is_incremental() %}
where request_item_id in (select request_item_id from scope)
{% endif %}
