-- Request fulfilment time: order to delivery of the request items delivered in the period, in
-- calendar and business minutes (mean, median, p90), split into approval wait and fulfilment
-- work (means); and delivery SLA compliance. One row per grain, period and slice.

{%- set slice_columns = {"catalog_item": "catalog_item_name", "category": "category_name", "team": "team_name"} %}
{%- set measures -%}
    count(*) as delivered_count,
    avg(minutes_to_deliver) as mean_minutes,
    percentile_cont(array[0.5, 0.9]) within group (order by minutes_to_deliver) as percentiles,
    avg(business_minutes_to_deliver) as mean_business_minutes,
    percentile_cont(array[0.5, 0.9]) within group (order by business_minutes_to_deliver)
        as business_percentiles,
    avg(approval_wait_minutes) as approval_wait,
    avg(approval_wait_business_minutes) as approval_wait_business,
    avg(fulfilment_minutes) as fulfilment_work,
    avg(fulfilment_business_minutes) as fulfilment_work_business,
    count(*) filter (where delivery_sla_met) as sla_met_count
{%- endset %}

with delivered as (
    select
        delivered_date,
        minutes_to_deliver::float8 as minutes_to_deliver,
        business_minutes_to_deliver::float8 as business_minutes_to_deliver,
        approval_wait_minutes::float8 as approval_wait_minutes,
        approval_wait_business_minutes::float8 as approval_wait_business_minutes,
        fulfilment_minutes::float8 as fulfilment_minutes,
        fulfilment_business_minutes::float8 as fulfilment_business_minutes,
        delivery_sla_met,
        catalog_item_name,
        category_name,
        team_name
    from {{ ref('fct_request_items') }}
    where is_delivered
),

rolled_up as (
    {{ period_slice_rollup(
        "delivered", "delivered_date", measures=measures,
        slices=var("request_metric_slices"), slice_columns=slice_columns,
    ) }}
)

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    delivered_count,
    mean_minutes::numeric(14, 2) as fulfilment_minutes,
    percentiles[1]::numeric(14, 2) as fulfilment_median_minutes,
    percentiles[2]::numeric(14, 2) as fulfilment_p90_minutes,
    mean_business_minutes::numeric(14, 2) as fulfilment_business_minutes,
    business_percentiles[1]::numeric(14, 2) as fulfilment_median_business_minutes,
    business_percentiles[2]::numeric(14, 2) as fulfilment_p90_business_minutes,
    approval_wait::numeric(14, 2) as approval_wait_minutes,
    approval_wait_business::numeric(14, 2) as approval_wait_business_minutes,
    fulfilment_work::numeric(14, 2) as fulfilment_work_minutes,
    fulfilment_work_business::numeric(14, 2) as fulfilment_work_business_minutes,
    sla_met_count,
    (sla_met_count::numeric / nullif(delivered_count, 0))::numeric(6, 4) as delivery_sla_compliance
from rolled_up
