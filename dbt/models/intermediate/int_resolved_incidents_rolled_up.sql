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

-- The metrics of resolved incidents, in one pass: MTTR, FCR and the reassignment rate share
-- their population (incidents resolved now, cancelled ones excluded) and their period (that of
-- the last resolution), so they are rolled up together and mttr_per_period, fcr_per_period and
-- reassignment_rate_per_period each show their own columns of it. One row per grain, period and
-- slice. MTTR in business time is the SLA resolution timer's business minutes from start to
-- completion (see README).

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
resolved as (
    select
        resolved_date,
        -- Aggregated as float8: much faster than numeric, and exact enough for two decimals.
        minutes_to_resolve::float8 as minutes_to_resolve,
        business_minutes_to_resolve::float8 as business_minutes_to_resolve,
        is_first_contact_resolution,
        is_reassigned,
        reassignment_count,
        {{ slice_columns() }}
    from {{ ref('fct_incidents') }}
    where is_resolved{{ in_affected_periods('resolved_date') }}
),

{{ duration_rollup(
    "resolved", "resolved_date", "resolved_count",
    "minutes_to_resolve", "business_minutes_to_resolve", "mttr",
    sums=[
        ["first_contact_resolved_count", "case when is_first_contact_resolution then 1 else 0 end"],
        ["reassigned_count", "case when is_reassigned then 1 else 0 end"],
        ["reassignment_count", "reassignment_count"],
    ],
    finals=[
        ["fcr_rate", "(first_contact_resolved_count::numeric / nullif(resolved_count, 0))::numeric(6, 4)"],
        ["reassignment_rate", "(reassigned_count::numeric / nullif(resolved_count, 0))::numeric(6, 4)"],
    ],
) }}
