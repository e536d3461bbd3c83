-- Per catalog item, over all history: items ordered, delivered and rejected, fulfilment time
-- (calendar and business minutes: mean, median, p90), delivery SLA compliance, and the CSAT of
-- the requests it was ordered in. One row per catalog item ever ordered.

with items as (
    select
        catalog_item_id,
        request_id,
        is_delivered,
        is_rejected,
        minutes_to_deliver::float8 as minutes_to_deliver,
        business_minutes_to_deliver::float8 as business_minutes_to_deliver,
        delivery_sla_met
    from {{ ref('fct_request_items') }}
),

rated as (
    select distinct items.catalog_item_id, requests.request_id, requests.csat_rating
    from items
    inner join {{ ref('fct_requests') }} as requests on requests.request_id = items.request_id
    where requests.csat_rating is not null
),

csat as (
    select catalog_item_id, count(*) as csat_answer_count, avg(csat_rating) as csat_mean
    from rated
    group by catalog_item_id
),

figures as (
    select
        catalog_item_id,
        count(*) as ordered_count,
        count(*) filter (where is_delivered) as delivered_count,
        count(*) filter (where is_rejected) as rejected_count,
        avg(minutes_to_deliver) as mean_minutes,
        percentile_cont(array[0.5, 0.9]) within group (order by minutes_to_deliver)
            as percentiles,
        avg(business_minutes_to_deliver) as mean_business_minutes,
        count(*) filter (where delivery_sla_met) as sla_met_count
    from items
    group by catalog_item_id
)

select
    figures.catalog_item_id,
    catalog.catalog_item_name,
    catalog.category_name,
    catalog.is_active,
    figures.ordered_count,
    figures.delivered_count,
    figures.rejected_count,
    (figures.rejected_count::numeric / nullif(figures.ordered_count, 0))::numeric(6, 4)
        as rejection_rate,
    figures.mean_minutes::numeric(14, 2) as fulfilment_minutes,
    figures.percentiles[1]::numeric(14, 2) as fulfilment_median_minutes,
    figures.percentiles[2]::numeric(14, 2) as fulfilment_p90_minutes,
    figures.mean_business_minutes::numeric(14, 2) as fulfilment_business_minutes,
    (figures.sla_met_count::numeric / nullif(figures.delivered_count, 0))::numeric(6, 4)
        as delivery_sla_compliance,
    coalesce(csat.csat_answer_count, 0) as csat_answer_count,
    csat.csat_mean::numeric(4, 2) as csat_mean_rating
from figures
inner join {{ ref('stg_operational__catalog_items') }} as catalog
    on catalog.catalog_item_id = figures.catalog_item_id
left join csat on csat.catalog_item_id = figures.catalog_item_id
