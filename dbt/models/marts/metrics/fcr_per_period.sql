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

-- First-contact resolution: the share of resolved incidents never reassigned after their first
-- assignment, never reopened and never on hold awaiting the caller, attributed to the period of
-- the last resolution. One row per grain, period and slice.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
resolved as (
    select resolved_date, is_first_contact_resolution, {{ slice_columns() }}
    from {{ ref('fct_incidents') }}
    where is_resolved{{ in_affected_periods('resolved_date') }}
),

{{ additive_rollup(
    "resolved",
    "resolved_date",
    sums=[
        ["resolved_count", "1"],
        ["first_contact_resolved_count", "case when is_first_contact_resolution then 1 else 0 end"],
    ],
    finals=[
        ["fcr_rate", "(first_contact_resolved_count::numeric / nullif(resolved_count, 0))::numeric(6, 4)"],
    ],
) }}
