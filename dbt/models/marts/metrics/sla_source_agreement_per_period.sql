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

-- Agreement between the source tool's SLA verdict and ours, for imported incidents that carry
-- one, attributed to the period of the incident's last resolution.
-- One row per grain, period and slice.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
compared as (
    select resolved_date, comparison, source_made_sla, made_sla, {{ slice_columns() }}
    from {{ ref('sla_source_comparison') }}
    where lifecycle_status = 'resolved'{{ in_affected_periods('resolved_date') }}
),

{{ additive_rollup(
    "compared",
    "resolved_date",
    sums=[
        ["compared_count", "1"],
        ["agree_count", "case when comparison = 'agree' then 1 else 0 end"],
        ["source_met_we_breached_count", "case when comparison = 'source_met_we_breached' then 1 else 0 end"],
        ["source_breached_we_met_count", "case when comparison = 'source_breached_we_met' then 1 else 0 end"],
        ["no_timer_count", "case when comparison = 'no_timer' then 1 else 0 end"],
        ["source_met_count", "case when source_made_sla then 1 else 0 end"],
        ["our_met_count", "case when made_sla then 1 else 0 end"],
    ],
    finals=[
        ["agreement_rate", "(agree_count::numeric / nullif(compared_count - no_timer_count, 0))::numeric(6, 4)"],
    ],
) }}
