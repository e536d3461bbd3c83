{{
    config(
        materialized="incremental",
        incremental_strategy="replace_incidents",
        replace_marker="timer_id",
        on_schema_change="fail",
        indexes=[
            {"columns": ["incident_id"]},
            {"columns": ["breached_date"]},
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- The SLA breach register: every SLA timer that breached, with its ticket, target, due time,
-- breach time and team. One row per breached timer. Incremental: the incidents rebuilt in
-- fct_incidents since the last run are replaced whole.

with incidents as (
    select *
    from {{ ref('fct_incidents') }}
    {% if is_incremental() %}
    where incident_id in ({{ changed_fct_incidents() }})
    {% endif %}
),

breaches as (
    select
        timers.timer_id,
        timers.incident_id,
        incidents.incident_number,
        incidents.title,
        timers.target_type,
        policies.policy_name,
        timers.target_minutes,
        timers.started_at,
        timers.due_at,
        timers.breached_at,
        {{ reporting_date("timers.breached_at") }} as breached_date,
        timers.completed_at,
        timers.timer_state,
        -- Business minutes used beyond the target, at completion (null while still running).
        case
            when timers.is_completed
                then timers.elapsed_business_minutes - timers.target_minutes
        end as business_minutes_over_target,
        incidents.priority_label,
        incidents.team_id,
        incidents.team_name,
        incidents.assignee_id,
        incidents.service_name,
        incidents.category,
        incidents.channel,
        incidents.lifecycle_status,
        incidents.source_system,
        incidents.source_made_sla
    from {{ ref('stg_operational__sla_timers') }} as timers
    inner join incidents on incidents.incident_id = timers.incident_id
    left join {{ ref('stg_operational__sla_policies') }} as policies
        on policies.policy_id = timers.policy_id
    where timers.breached_at is not null
)

{%- set columns = [
    "timer_id", "incident_number", "title", "target_type", "policy_name", "target_minutes",
    "started_at", "due_at", "breached_at", "breached_date", "completed_at", "timer_state",
    "business_minutes_over_target", "priority_label", "team_id", "team_name", "assignee_id",
    "service_name", "category", "channel", "lifecycle_status", "source_system", "source_made_sla",
] %}

{{ replace_incidents_output("breaches", columns) }}
