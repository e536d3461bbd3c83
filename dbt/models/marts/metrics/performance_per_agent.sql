{{
    config(
        materialized="incremental",
        incremental_strategy="replace_periods",
        replace_marker="resolved_count",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- depends_on: {{ ref('int_metric_days_touched') }}

-- Per agent: the incidents resolved in the period (same population and period as MTTR) by their
-- assignee, with MTTR, FCR, CSAT and reassignments, by the incident's team.
-- One row per grain, period, agent and team.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
resolved as (
    select
        resolved_date,
        assignee_id,
        team_id,
        minutes_to_resolve,
        is_first_contact_resolution,
        csat_rating,
        reassignment_count
    from {{ ref('fct_incidents') }}
    where is_resolved{{ in_affected_periods('resolved_date') }}
),

daily as (
    select
        resolved_date as rollup_day,
        assignee_id,
        team_id,
        count(*) as resolved_count,
        sum(minutes_to_resolve) as minutes_total,
        count(*) filter (where is_first_contact_resolution) as first_contact_resolved_count,
        count(csat_rating) as rated_count,
        count(*) filter (where csat_rating >= 4) as satisfied_count,
        sum(reassignment_count) as reassignment_count
    from resolved
    group by resolved_date, assignee_id, team_id
),

periods as (
    {%- for grain in var("metric_grains") %}
    select
        '{{ grain }}'::text as period_grain,
        {{ period_start(grain, "rollup_day") }} as period_start,
        assignee_id,
        team_id,
        sum(resolved_count) as resolved_count,
        sum(minutes_total) as minutes_total,
        sum(first_contact_resolved_count) as first_contact_resolved_count,
        sum(rated_count) as rated_count,
        sum(satisfied_count) as satisfied_count,
        sum(reassignment_count) as reassignment_count
    from daily
    group by 2, assignee_id, team_id
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

rolled as (
    select
        periods.period_grain,
        periods.period_start,
        periods.assignee_id as agent_id,
        coalesce(agents.display_name, '(unassigned)') as agent_name,
        periods.team_id,
        coalesce(teams.team_name, '(none)') as team_name,
        periods.resolved_count::bigint as resolved_count,
        (periods.minutes_total / nullif(periods.resolved_count, 0))::numeric(14, 2)
            as mttr_minutes,
        periods.first_contact_resolved_count::bigint as first_contact_resolved_count,
        (periods.first_contact_resolved_count::numeric / nullif(periods.resolved_count, 0))
            ::numeric(6, 4) as fcr_rate,
        periods.rated_count::bigint as rated_count,
        (periods.satisfied_count::numeric / nullif(periods.rated_count, 0))::numeric(6, 4)
            as csat_rate,
        periods.reassignment_count::bigint as reassignment_count
    from periods
    left join {{ ref('stg_operational__users') }} as agents
        on agents.user_id = periods.assignee_id
    left join {{ ref('stg_operational__teams') }} as teams on teams.team_id = periods.team_id
)

{{ rollup_output([
    "agent_id",
    "agent_name",
    "team_id",
    "team_name",
    "resolved_count",
    "mttr_minutes",
    "first_contact_resolved_count",
    "fcr_rate",
    "rated_count",
    "csat_rate",
    "reassignment_count",
]) }}
