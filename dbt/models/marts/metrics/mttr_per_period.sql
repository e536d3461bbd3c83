{{
    config(
        materialized="incremental",
        incremental_strategy="replace_periods",
        on_schema_change="fail",
        indexes=[
            {"columns": ["period_grain", "period_start"]},
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- depends_on: {{ ref('int_metric_days_touched') }}

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

{{ duration_rollup(
    "resolved", "resolved_date", "resolved_count",
    "minutes_to_resolve", "business_minutes_to_resolve", "mttr",
) }}
