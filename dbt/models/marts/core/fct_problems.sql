{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="problem_id",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
            {"columns": ["opened_date"]},
            {"columns": ["resolved_date"]},
        ],
    )
}}

-- depends_on: {{ ref('stg_operational__events') }}
-- depends_on: {{ ref('stg_operational__incidents') }}
-- One row per problem with its timeline (time to root cause, time to fix) and its incidents
-- (linked, still open, seen with the known error published, recurring after the fix), for
-- drill-down from the problem figures. Incremental: a problem is rebuilt whole when one of its
-- events, or one of its linked incidents' events, was recorded since the watermark, or the row
-- changed (imports), so an incremental run equals a full refresh.

{% if is_incremental() %}
with scope as (
    select entity_id as problem_id
    from {{ ref('stg_operational__events') }}
    where entity_type = 'problem' and recorded_at >= {{ incremental_since() }}
    union
    select problem_id
    from {{ ref('stg_operational__problems') }}
    where created_at >= {{ incremental_since() }} or updated_at >= {{ incremental_since() }}
    union
    select incidents.problem_id
    from {{ ref('stg_operational__incidents') }} as incidents
    inner join {{ ref('stg_operational__events') }} as incident_events
        on incident_events.entity_type = 'incident'
        and incident_events.entity_id = incidents.incident_id
    where incidents.problem_id is not null
        and incident_events.recorded_at >= {{ incremental_since() }}
),
{% else %}
with
{% endif %}

problems as (
    select *
    from {{ ref('stg_operational__problems') }}
    {% if is_incremental() %}
    where problem_id in (select problem_id from scope)
    {% endif %}
),

links as (
    select
        problem_id,
        count(*) as linked_incident_count,
        count(*) filter (where is_open) as open_linked_incident_count,
        count(*) filter (where had_known_error_at_open) as known_error_incident_count,
        count(*) filter (where is_recurrence) as recurrence_count
    from {{ ref('int_problem_links_evaluated') }}
    group by problem_id
)

select
    problems.problem_id,
    problems.problem_number,
    problems.title,
    problems.state,
    problems.is_open,
    problems.priority,
    problems.priority_label,
    problems.team_id,
    teams.team_name,
    problems.owner_id,
    problems.service_name,
    problems.category,
    problems.root_cause_category,
    problems.is_known_error,
    problems.known_error_at,
    problems.opened_at,
    {{ reporting_date("problems.opened_at") }} as opened_date,
    problems.root_cause_at,
    {{ reporting_date("problems.root_cause_at") }} as root_cause_date,
    problems.resolved_at,
    {{ reporting_date("problems.resolved_at") }} as resolved_date,
    problems.closed_at,
    -- Ended: resolved, or closed without a resolution.
    {{ reporting_date("coalesce(problems.resolved_at, problems.closed_at)") }} as ended_date,
    {{ minutes_between("problems.opened_at", "problems.root_cause_at") }} as minutes_to_root_cause,
    {{ minutes_between("problems.opened_at", "problems.resolved_at") }} as minutes_to_fix,
    coalesce(links.linked_incident_count, 0) as linked_incident_count,
    coalesce(links.open_linked_incident_count, 0) as open_linked_incident_count,
    coalesce(links.known_error_incident_count, 0) as known_error_incident_count,
    coalesce(links.recurrence_count, 0) as recurrence_count,
    coalesce(links.recurrence_count, 0) > 0 as has_recurred,
    problems.source_system,
    problems.is_imported,
    {{ run_watermark() }} as loaded_watermark
from problems
left join links on links.problem_id = problems.problem_id
left join {{ ref('stg_operational__teams') }} as teams on teams.team_id = problems.team_id
