{{
    config(
        materialized="incremental",
        incremental_strategy="replace_periods",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- depends_on: {{ ref('int_metric_days_touched') }}

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

{{ duration_rollup(
    "acknowledged", "acknowledged_date", "acknowledged_count",
    "minutes_to_acknowledge", "business_minutes_to_acknowledge", "mtta",
) }}
