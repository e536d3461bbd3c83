{#- Indexes: loaded_watermark and the metric dates, by which incremental runs and the rollups
    select rows; source_recorded_at for marts_freshness; open incidents by team for dim_teams. -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="incident_id",
        on_schema_change="fail",
        analyze_after_refresh=True,
        indexes=[
            {"columns": ["loaded_watermark"]},
            {"columns": ["opened_date"]},
            {"columns": ["acknowledged_date"]},
            {"columns": ["first_resolved_date"]},
            {"columns": ["resolved_date"]},
            {"columns": ["response_completed_date"]},
            {"columns": ["resolution_completed_date"]},
            {"columns": ["source_recorded_at"]},
            {"columns": ["is_open", "team_id"]},
        ],
    )
}}

-- depends_on: {{ ref('stg_operational__events') }}
-- One row per incident with every lifecycle figure, for drill-down from any metric to tickets.
-- Incremental: an incident is rebuilt whole when any of its events (or its team's) was recorded
-- since the watermark, so an incremental run equals a full refresh.

{% if is_incremental() %}
with scope as (
    select entity_id as incident_id
    from {{ ref('stg_operational__events') }}
    where entity_type = 'incident' and recorded_at >= {{ incremental_since() }}
    union
    select incident_id
    from {{ ref('stg_operational__incidents') }}
    where created_at >= {{ incremental_since() }}
    union
    select incidents.incident_id
    from {{ ref('stg_operational__incidents') }} as incidents
    inner join {{ ref('stg_operational__events') }} as team_events
        on team_events.entity_type = 'team' and team_events.entity_id = incidents.team_id
    where team_events.recorded_at >= {{ incremental_since() }}
    union
    select incident_id
    from {{ ref('int_incidents_lifecycle_rebuilt') }}
    where loaded_watermark >= {{ incremental_since() }}
    union
    -- A re-import may change only what the source says of a ticket.
    select incident_id
    from {{ ref('stg_operational__incident_source_figures') }}
    where updated_at >= {{ incremental_since() }}
),
{% else %}
with
{% endif %}

incidents as (
    select *
    from {{ ref('stg_operational__incidents') }}
    {% if is_incremental() %}
    where incident_id in (select incident_id from scope)
    {% endif %}
),

surveys as (
    select
        incident_id,
        count(*) as csat_survey_count,
        count(*) filter (where is_answered) as csat_answer_count,
        -- The latest answer stands for the incident.
        (array_agg(rating order by answered_at desc, survey_id desc) filter (where is_answered))[1]
            as csat_rating,
        max(answered_at) as csat_answered_at
    from {{ ref('stg_operational__csat_surveys') }}
    {% if is_incremental() %}
    where incident_id in (select incident_id from scope)
    {% endif %}
    group by incident_id
),

holds as (
    select
        incident_id,
        count(*) as hold_count,
        sum(calendar_minutes) as on_hold_calendar_minutes,
        bool_or(is_awaiting_caller) as has_awaited_caller,
        bool_or(is_ongoing) as has_ongoing_hold
    from {{ ref('int_incident_holds_paired') }}
    {% if is_incremental() %}
    where incident_id in (select incident_id from scope)
    {% endif %}
    group by incident_id
),

-- One row per incident: its response and its resolution timer side by side (cancelled timers
-- left out). Completed figures only: a running timer's minutes change without an event. An
-- incident has at most one timer per target (uq_sla_timers_incident_id_target), so the pivot is
-- two joins, not an aggregate.
{%- for target in ["response", "resolution"] %}
{{ target }}_timers as (
    select
        incident_id,
        policy_id,
        target_minutes as {{ target }}_target_minutes,
        timer_state as {{ target }}_sla_state,
        due_at as {{ target }}_due_at,
        case when is_completed then completed_at end as {{ target }}_completed_at,
        breached_at as {{ target }}_breached_at,
        case when is_completed then is_met end as {{ target }}_sla_met,
        is_breached as {{ target }}_is_breached,
        -- Business minutes from the timer's start to its completion, paused or not.
        (case when is_completed then elapsed_business_minutes + paused_business_minutes end)
            ::numeric(14, 2) as {{ target }}_business_minutes
        {%- if target == "resolution" %},
        (case when is_completed then elapsed_business_minutes end)::numeric(14, 2)
            as resolution_sla_clock_minutes,
        (case when is_completed then paused_business_minutes end)::numeric(14, 2)
            as resolution_paused_business_minutes
        {%- endif %}
    from {{ ref('stg_operational__sla_timers') }}
    where target_type = '{{ target }}' and timer_state <> 'cancelled'
    {% if is_incremental() %}
        and incident_id in (select incident_id from scope)
    {% endif %}
),

{% endfor %}
source_figures as (
    select *
    from {{ ref('stg_operational__incident_source_figures') }}
    {% if is_incremental() %}
    where incident_id in (select incident_id from scope)
    {% endif %}
),

joined as (
    select
        incidents.*,
        source_figures.source_resolved_at,
        source_figures.source_closed_at,
        source_figures.source_reassignment_count,
        source_figures.source_reopen_count,
        coalesce(source_figures.is_resolution_time_unknown, false) as is_resolution_time_unknown,
        source_figures.missing_updates,
        teams.team_name,
        lifecycle.acknowledged_at,
        lifecycle.acknowledgement_kind,
        lifecycle.first_group_assigned_at,
        lifecycle.first_resolved_at,
        lifecycle.resolved_at,
        lifecycle.closed_at,
        lifecycle.cancelled_at,
        lifecycle.last_reopened_at,
        coalesce(lifecycle.lifecycle_status, 'open') as lifecycle_status,
        coalesce(lifecycle.group_assignment_count, 0) as group_assignment_count,
        coalesce(lifecycle.reassignment_count, 0) as reassignment_count,
        coalesce(lifecycle.reopen_count, 0) as reopen_count,
        coalesce(lifecycle.resolution_count, 0) as resolution_count,
        coalesce(holds.hold_count, 0) as hold_count,
        coalesce(holds.on_hold_calendar_minutes, 0)::numeric(14, 2) as on_hold_calendar_minutes,
        coalesce(holds.has_awaited_caller, false) as has_awaited_caller,
        coalesce(holds.has_ongoing_hold, false)
            and coalesce(lifecycle.lifecycle_status, 'open') = 'open' as is_on_hold,
        coalesce(surveys.csat_survey_count, 0) as csat_survey_count,
        coalesce(surveys.csat_answer_count, 0) as csat_answer_count,
        surveys.csat_rating,
        surveys.csat_answered_at,
        resolution_policies.policy_name as sla_policy_name,
        {%- for target in ["response", "resolution"] %}
        {{ target }}_timers.{{ target }}_target_minutes,
        {{ target }}_timers.{{ target }}_sla_state,
        {{ target }}_timers.{{ target }}_due_at,
        {{ target }}_timers.{{ target }}_completed_at,
        {{ target }}_timers.{{ target }}_breached_at,
        {{ target }}_timers.{{ target }}_sla_met,
        {{ target }}_timers.{{ target }}_business_minutes,
        {%- endfor %}
        resolution_timers.resolution_sla_clock_minutes,
        resolution_timers.resolution_paused_business_minutes,
        response_timers.incident_id is not null
            or resolution_timers.incident_id is not null as has_sla,
        coalesce(response_timers.response_is_breached, false)
            or coalesce(resolution_timers.resolution_is_breached, false) as is_sla_breached,
        greatest(incidents.created_at, lifecycle.source_recorded_at) as source_recorded_at
    from incidents
    left join {{ ref('int_incidents_lifecycle_rebuilt') }} as lifecycle
        on lifecycle.incident_id = incidents.incident_id
    left join {{ ref('stg_operational__teams') }} as teams on teams.team_id = incidents.team_id
    left join surveys on surveys.incident_id = incidents.incident_id
    left join holds on holds.incident_id = incidents.incident_id
    left join response_timers on response_timers.incident_id = incidents.incident_id
    left join resolution_timers on resolution_timers.incident_id = incidents.incident_id
    left join {{ ref('stg_operational__sla_policies') }} as resolution_policies
        on resolution_policies.policy_id = resolution_timers.policy_id
    left join source_figures on source_figures.incident_id = incidents.incident_id
),

-- Source-authoritative figures (dbt/README.md, "Source figures"): for an imported incident the
-- source's own resolution and closure times and counters win over the replay of its exported
-- history, which may lack updates; the replayed value stays beside each. Native incidents have
-- no source figures: their event log is their source.
decided as (
    select
        joined.*,
        resolved_at as replayed_resolved_at,
        closed_at as replayed_closed_at,
        reassignment_count as replayed_reassignment_count,
        reopen_count as replayed_reopen_count,
        case
            when lifecycle_status <> 'resolved' then null
            when source_resolved_at is not null then 'source'
            when is_resolution_time_unknown then 'unknown'
            else 'replay'
        end as resolved_at_basis,
        case
            when lifecycle_status = 'resolved' and source_resolved_at is not null
                then source_resolved_at
            else resolved_at
        end as decided_resolved_at,
        case
            when closed_at is not null and source_closed_at is not null then source_closed_at
            else closed_at
        end as decided_closed_at,
        coalesce(source_reassignment_count, reassignment_count) as decided_reassignment_count,
        coalesce(source_reopen_count, reopen_count) as decided_reopen_count
    from joined
)

select
    incident_id,
    incident_number,
    title,
    source_system,
    external_id,
    is_imported,
    channel,
    category,
    subcategory,
    service_name,
    configuration_item,
    impact,
    urgency,
    priority,
    priority_label,
    team_id,
    team_name,
    assignee_id,
    requester_id,
    first_assignee_id,
    state,
    lifecycle_status,
    lifecycle_status = 'open' as is_open,
    lifecycle_status = 'resolved' as is_resolved,
    lifecycle_status = 'cancelled' as is_cancelled,
    opened_at,
    {{ reporting_date("opened_at") }} as opened_date,
    acknowledged_at,
    {{ reporting_date("acknowledged_at") }} as acknowledged_date,
    acknowledgement_kind,
    first_group_assigned_at,
    first_resolved_at,
    {{ reporting_date("first_resolved_at") }} as first_resolved_date,
    decided_resolved_at as resolved_at,
    {{ reporting_date("decided_resolved_at") }} as resolved_date,
    decided_closed_at as closed_at,
    cancelled_at,
    last_reopened_at,
    {{ minutes_between("opened_at", "acknowledged_at") }} as minutes_to_acknowledge,
    -- Unknown stays unknown: no duration for a resolution time nobody recorded.
    (case
        when lifecycle_status = 'resolved' and resolved_at_basis <> 'unknown'
            then {{ minutes_between("opened_at", "decided_resolved_at") }}
    end)::numeric(14, 2) as minutes_to_resolve,
    group_assignment_count,
    decided_reassignment_count::bigint as reassignment_count,
    decided_reassignment_count > 0 as is_reassigned,
    decided_reopen_count::bigint as reopen_count,
    decided_reopen_count > 0 as is_reopened,
    resolution_count,
    hold_count,
    on_hold_calendar_minutes,
    has_awaited_caller,
    is_on_hold,
    -- First-contact resolution: resolved, never reassigned, never reopened, never awaited caller
    -- (the source's counters where it has them); unknown when the resolution time is.
    case
        when lifecycle_status = 'resolved' and resolved_at_basis <> 'unknown'
            then decided_reassignment_count = 0 and decided_reopen_count = 0
                and not has_awaited_caller
    end as is_first_contact_resolution,
    csat_survey_count,
    csat_answer_count,
    csat_rating,
    csat_answered_at,
    sla_policy_name,
    response_target_minutes,
    response_sla_state,
    response_due_at,
    response_completed_at,
    {{ reporting_date("response_completed_at") }} as response_completed_date,
    response_breached_at,
    response_sla_met,
    response_business_minutes,
    resolution_target_minutes,
    resolution_sla_state,
    resolution_due_at,
    resolution_completed_at,
    {{ reporting_date("resolution_completed_at") }} as resolution_completed_date,
    resolution_breached_at,
    resolution_sla_met,
    resolution_business_minutes,
    resolution_sla_clock_minutes,
    resolution_paused_business_minutes,
    -- Business time to acknowledge and to resolve come from the SLA timers (see README); an
    -- unknown resolution time has none.
    response_business_minutes as business_minutes_to_acknowledge,
    (case
        when lifecycle_status = 'resolved' and resolved_at_basis <> 'unknown'
            then resolution_business_minutes
    end)::numeric(14, 2) as business_minutes_to_resolve,
    has_sla,
    is_sla_breached,
    -- Our verdict in the terms of ServiceNow's made_sla: no SLA timer of the incident breached.
    case when has_sla then not is_sla_breached end as made_sla,
    source_made_sla,
    -- The source's verdict beside ours (made_sla), for incidents that carry one.
    case
        when source_made_sla is null then null
        when not has_sla then 'no_timer'
        when (not is_sla_breached) = source_made_sla then 'agree'
        when source_made_sla then 'source_met_we_breached'
        else 'source_breached_we_met'
    end as source_sla_comparison,
    replayed_resolved_at,
    replayed_closed_at,
    replayed_reassignment_count::bigint as replayed_reassignment_count,
    replayed_reopen_count::bigint as replayed_reopen_count,
    resolved_at_basis,
    resolved_at_basis is distinct from 'unknown' as is_resolution_time_known,
    missing_updates,
    coalesce(missing_updates, 0) > 0 as has_history_gap,
    source_recorded_at,
    {{ run_watermark() }} as loaded_watermark
from decided
