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
-- depends_on: {{ ref('fct_incidents') }}

-- Reopen rate: the share of incidents first resolved in the period that were reopened at least
-- once since (whether resolved again or still open). One row per grain, period and slice.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
first_resolved as (
    select first_resolved_date, is_reopened, {{ slice_columns() }}
    from {{ ref('fct_incidents') }}
    where first_resolved_at is not null{{ in_affected_periods('first_resolved_date') }}
),

{{ additive_rollup(
    "first_resolved",
    "first_resolved_date",
    sums=[
        ["first_resolved_count", "1"],
        ["reopened_count", "case when is_reopened then 1 else 0 end"],
    ],
    finals=[
        ["reopen_rate", "(reopened_count::numeric / nullif(first_resolved_count, 0))::numeric(6, 4)"],
    ],
) }}
