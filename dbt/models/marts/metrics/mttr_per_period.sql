{{
    config(
        materialized="incremental",
        incremental_strategy="replace_periods",
        on_schema_change="fail",
        indexes=[{"columns": ["period_grain", "period_start"]}],
    )
}}

-- depends_on: {{ ref('int_incident_events_classified') }}
-- depends_on: {{ ref('stg_operational__csat_surveys') }}
-- depends_on: {{ ref('stg_operational__sla_timers') }}

-- MTTR: mean, median and p90 calendar minutes from opening to the last resolution, over
-- resolved incidents (cancelled ones excluded), attributed to the period of that last
-- resolution; in business time, the SLA resolution timer's business minutes from start to
-- completion (see README). One row per grain, period and slice.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
resolved as (
    select
        resolved_date,
        -- Aggregated as float8: much faster than numeric, and exact enough for two decimals.
        minutes_to_resolve::float8 as minutes_to_resolve,
        business_minutes_to_resolve::float8 as business_minutes_to_resolve,
        {{ slice_columns() }}
    from {{ ref('fct_incidents') }}
    where is_resolved{{ in_affected_periods('resolved_date') }}
),

rolled_up as (
    {{ period_slice_rollup(
        "resolved",
        "resolved_date",
        measures="
            count(*) as resolved_count,
            avg(minutes_to_resolve) as mean_minutes,
            -- One sort per group gives both percentiles (continuous).
            percentile_cont(array[0.5, 0.9]) within group (order by minutes_to_resolve)
                as percentiles,
            count(business_minutes_to_resolve) as business_time_count,
            avg(business_minutes_to_resolve) as mean_business_minutes,
            percentile_cont(array[0.5, 0.9]) within group (order by business_minutes_to_resolve)
                as business_percentiles
        ",
    ) }}
),

rolled as (
    select
        period_grain,
        period_start,
        slice_by,
        slice_value,
        resolved_count,
        mean_minutes::numeric(14, 2) as mttr_minutes,
        percentiles[1]::numeric(14, 2) as mttr_median_minutes,
        percentiles[2]::numeric(14, 2) as mttr_p90_minutes,
        business_time_count,
        mean_business_minutes::numeric(14, 2) as mttr_business_minutes,
        business_percentiles[1]::numeric(14, 2) as mttr_median_business_minutes,
        business_percentiles[2]::numeric(14, 2) as mttr_p90_business_minutes
    from rolled_up
)

{{ rollup_output([
    "slice_by",
    "slice_value",
    "resolved_count",
    "mttr_minutes",
    "mttr_median_minutes",
    "mttr_p90_minutes",
    "business_time_count",
    "mttr_business_minutes",
    "mttr_median_business_minutes",
    "mttr_p90_business_minutes",
]) }}
