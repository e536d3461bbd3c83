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

-- MTTA: mean (and median, p90) calendar minutes from opening to acknowledgement, attributed to
-- the period of the acknowledgement; in business time, the SLA response timer's business minutes
-- from start to completion (see README). One row per grain, period and slice.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
acknowledged as (
    select
        acknowledged_date,
        -- Aggregated as float8: much faster than numeric, and exact enough for two decimals.
        minutes_to_acknowledge::float8 as minutes_to_acknowledge,
        business_minutes_to_acknowledge::float8 as business_minutes_to_acknowledge,
        {{ slice_columns() }}
    from {{ ref('fct_incidents') }}
    where acknowledged_at is not null{{ in_affected_periods('acknowledged_date') }}
),

rolled_up as (
    {{ period_slice_rollup(
        "acknowledged",
        "acknowledged_date",
        measures="
            count(*) as acknowledged_count,
            avg(minutes_to_acknowledge) as mean_minutes,
            -- One sort per group gives both percentiles (continuous).
            percentile_cont(array[0.5, 0.9]) within group (order by minutes_to_acknowledge)
                as percentiles,
            count(business_minutes_to_acknowledge) as business_time_count,
            avg(business_minutes_to_acknowledge) as mean_business_minutes,
            percentile_cont(array[0.5, 0.9]) within group (order by business_minutes_to_acknowledge)
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
        acknowledged_count,
        mean_minutes::numeric(14, 2) as mtta_minutes,
        percentiles[1]::numeric(14, 2) as mtta_median_minutes,
        percentiles[2]::numeric(14, 2) as mtta_p90_minutes,
        business_time_count,
        mean_business_minutes::numeric(14, 2) as mtta_business_minutes,
        business_percentiles[1]::numeric(14, 2) as mtta_median_business_minutes,
        business_percentiles[2]::numeric(14, 2) as mtta_p90_business_minutes
    from rolled_up
)

{{ rollup_output([
    "slice_by",
    "slice_value",
    "acknowledged_count",
    "mtta_minutes",
    "mtta_median_minutes",
    "mtta_p90_minutes",
    "business_time_count",
    "mtta_business_minutes",
    "mtta_median_business_minutes",
    "mtta_p90_business_minutes",
]) }}
