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

-- SLA compliance: among the SLA timers completed (met or breached) in the period, the share met,
-- per target type (response, resolution). A timer counts in the period in which it completed.
-- One row per grain, period, slice and target type.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
completed_timers as (
    select
        'response' as target_type,
        response_completed_date as completed_date,
        response_sla_met as is_met,
        priority_label,
        team_name,
        service_name,
        category,
        channel
    from {{ ref('fct_incidents') }}
    where response_sla_met is not null{{ in_affected_periods('response_completed_date') }}
    union all
    select
        'resolution' as target_type,
        resolution_completed_date as completed_date,
        resolution_sla_met as is_met,
        priority_label,
        team_name,
        service_name,
        category,
        channel
    from {{ ref('fct_incidents') }}
    where resolution_sla_met is not null{{ in_affected_periods('resolution_completed_date') }}
),

{{ additive_rollup(
    "completed_timers",
    "completed_date",
    extra_keys=["target_type"],
    sums=[
        ["completed_count", "1"],
        ["met_count", "case when is_met then 1 else 0 end"],
        ["breached_count", "case when is_met then 0 else 1 end"],
    ],
    finals=[
        ["compliance_rate", "(met_count::numeric / nullif(completed_count, 0))::numeric(6, 4)"],
    ],
) }}
