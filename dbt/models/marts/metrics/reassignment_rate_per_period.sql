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
-- depends_on: {{ ref('fct_incidents') }}

-- Reassignment rate: the share of resolved incidents moved at least once from one team to
-- another, attributed to the period of the last resolution. One row per grain, period and slice.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
resolved as (
    select resolved_date, is_reassigned, reassignment_count, {{ slice_columns() }}
    from {{ ref('fct_incidents') }}
    where is_resolved{{ in_affected_periods('resolved_date') }}
),

{{ additive_rollup(
    "resolved",
    "resolved_date",
    sums=[
        ["resolved_count", "1"],
        ["reassigned_count", "case when is_reassigned then 1 else 0 end"],
        ["reassignment_count", "reassignment_count"],
    ],
    finals=[
        ["reassignment_rate", "(reassigned_count::numeric / nullif(resolved_count, 0))::numeric(6, 4)"],
    ],
) }}
