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

-- The metrics of resolved incidents, in one pass: MTTR, FCR, the reassignment rate and the
-- agreement with the source tools' SLA verdicts share their population (incidents resolved now,
-- cancelled ones excluded) and their period (that of the last resolution), so they are rolled up
-- together and mttr_per_period, fcr_per_period, reassignment_rate_per_period and
-- sla_source_agreement_per_period each show their own columns of it. One row per grain, period
-- and slice. MTTR in business time is the SLA resolution timer's business minutes from start to
-- completion (see README). Unknown stays unknown: an incident whose resolution time is unknown
-- counts in resolved_count but not in MTTR (mttr_covered_count / mttr_left_out_count) nor in FCR
-- (fcr_covered_count / fcr_left_out_count).

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
resolved as (
    select
        resolved_date,
        -- Aggregated as float8: much faster than numeric, and exact enough for two decimals.
        minutes_to_resolve::float8 as minutes_to_resolve,
        business_minutes_to_resolve::float8 as business_minutes_to_resolve,
        is_first_contact_resolution,
        is_resolution_time_known,
        is_reassigned,
        reassignment_count,
        source_made_sla,
        made_sla,
        source_sla_comparison,
        {{ slice_columns() }}
    from {{ ref('fct_incidents') }}
    where is_resolved{{ in_affected_periods('resolved_date') }}
),

{{ duration_rollup(
    "resolved", "resolved_date", "resolved_count",
    "minutes_to_resolve", "business_minutes_to_resolve", "mttr",
    sums=[
        ["mttr_covered_count", "case when minutes_to_resolve is not null then 1 else 0 end"],
        ["mttr_left_out_count", "case when minutes_to_resolve is null then 1 else 0 end"],
        ["first_contact_resolved_count", "case when is_first_contact_resolution then 1 else 0 end"],
        ["fcr_covered_count", "case when is_first_contact_resolution is not null then 1 else 0 end"],
        ["fcr_left_out_count", "case when is_first_contact_resolution is null then 1 else 0 end"],
        ["reassigned_count", "case when is_reassigned then 1 else 0 end"],
        ["reassignment_count", "reassignment_count"],
        ["compared_count", "case when source_made_sla is not null then 1 else 0 end"],
        ["agree_count", "case when source_sla_comparison = 'agree' then 1 else 0 end"],
        ["source_met_we_breached_count", "case when source_sla_comparison = 'source_met_we_breached' then 1 else 0 end"],
        ["source_breached_we_met_count", "case when source_sla_comparison = 'source_breached_we_met' then 1 else 0 end"],
        ["no_timer_count", "case when source_sla_comparison = 'no_timer' then 1 else 0 end"],
        ["source_met_count", "case when source_made_sla then 1 else 0 end"],
        ["our_met_count", "case when source_made_sla is not null and made_sla then 1 else 0 end"],
    ],
    finals=[
        ["fcr_rate", "(first_contact_resolved_count::numeric / nullif(fcr_covered_count, 0))::numeric(6, 4)"],
        ["reassignment_rate", "(reassigned_count::numeric / nullif(resolved_count, 0))::numeric(6, 4)"],
        ["agreement_rate", "(agree_count::numeric / nullif(compared_count - no_timer_count, 0))::numeric(6, 4)"],
    ],
) }}
