{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="request_id",
        on_schema_change="fail",
        indexes=[{"columns": ["loaded_watermark"]}, {"columns": ["opened_date"]}],
    )
}}

-- depends_on: {{ ref('stg_operational__events') }}
-- depends_on: {{ ref('stg_operational__request_items') }}
-- One row per request with its items' outcome, total cost, time to close and CSAT.
-- Incremental: a request is rebuilt whole when any event of it or of one of its items was
-- recorded since the watermark, so an incremental run equals a full refresh.

with
{% if is_incremental() %}
scope as (
    select entity_id as request_id
    from {{ ref('stg_operational__events') }}
    where entity_type = 'request' and recorded_at >= {{ incremental_since() }}
    union
    select items.request_id
    from {{ ref('stg_operational__request_items') }} as items
    inner join {{ ref('stg_operational__events') }} as item_events
        on item_events.entity_type = 'request_item'
        and item_events.entity_id = items.request_item_id
    where item_events.recorded_at >= {{ incremental_since() }}
    union
    select request_id
    from {{ ref('stg_operational__requests') }}
    where created_at >= {{ incremental_since() }}
),
{% endif %}

items as (
    select
        request_id,
        count(*) as item_count,
        count(*) filter (where is_delivered) as delivered_item_count,
        count(*) filter (where is_rejected) as rejected_item_count,
        count(*) filter (where is_cancelled) as cancelled_item_count,
        sum(cost) as total_cost,
        bool_and(delivery_sla_met) filter (where is_delivered) as delivered_items_met_sla
    from {{ ref('int_request_items_measured') }}
    group by request_id
),

surveys as (
    select
        request_id,
        -- The latest answer stands for the request.
        (array_agg(rating order by answered_at desc, survey_id desc) filter (where is_answered))[1]
            as csat_rating,
        max(answered_at) as csat_answered_at
    from {{ ref('stg_operational__request_csat_surveys') }}
    group by request_id
)

select
    requests.request_id,
    requests.request_number,
    requests.requester_id,
    requests.request_state,
    requests.opened_at,
    {{ reporting_date("requests.opened_at") }} as opened_date,
    requests.closed_at,
    {{ reporting_date("requests.closed_at") }} as closed_date,
    coalesce(items.item_count, 0)::integer as item_count,
    coalesce(items.delivered_item_count, 0)::integer as delivered_item_count,
    coalesce(items.rejected_item_count, 0)::integer as rejected_item_count,
    coalesce(items.cancelled_item_count, 0)::integer as cancelled_item_count,
    items.total_cost::numeric(14, 2) as total_cost,
    (extract(epoch from requests.closed_at - requests.opened_at) / 60)::numeric(14, 2)
        as minutes_to_close,
    items.delivered_items_met_sla,
    surveys.csat_rating::smallint as csat_rating,
    surveys.csat_answered_at,
    requests.source_system,
    ({{ run_watermark() }}) as loaded_watermark
from {{ ref('stg_operational__requests') }} as requests
left join items on items.request_id = requests.request_id
left join surveys on surveys.request_id = requests.request_id
{% if is_incremental() %}
where requests.request_id in (select request_id from scope)
{% endif %}
