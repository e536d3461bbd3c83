{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="day",
        on_schema_change="fail",
        analyze_after_refresh=True,
        indexes=[
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- depends_on: {{ ref('int_incident_events_classified') }}
-- depends_on: {{ ref('stg_operational__csat_surveys') }}
-- depends_on: {{ ref('stg_operational__sla_timers') }}

-- The local days whose metric periods a refresh must recompute, found once per build for every
-- rollup. A rollup row depends on the incidents whose metric date falls in its period; an
-- incident's metric dates (opened, acknowledged, resolved, first resolved, survey and SLA
-- timer dates, before and after any change) are always dates of its own events, surveys or
-- timers. So the days touched by a build are every such date of the incidents it rebuilt in
-- fct_incidents. One row per day; loaded_watermark is the last build that touched it, and each
-- rollup recomputes the periods of the days touched since its own watermark.
--
-- A full build touches every day from the earliest to the latest metric date (a rollup left
-- incremental then recomputes everything).

{% if is_incremental() %}
with changed_incidents as (
    {{ changed_fct_incidents() }}
),

-- Each changed incident's own rows, looked up by incident: a lateral subquery kept apart by
-- "offset 0" runs once per incident through the tables' incident keys. The planner cannot know
-- how few incidents changed, and its hash join read the whole event log instead.
touched as (
    select {{ reporting_date("events.occurred_at") }} as day
    from changed_incidents
    cross join lateral (
        select classified.occurred_at
        from {{ ref('int_incident_events_classified') }} as classified
        where classified.incident_id = changed_incidents.incident_id
        offset 0
    ) as events
    union
    select incidents.opened_date
    from changed_incidents
    inner join {{ ref('fct_incidents') }} as incidents
        on incidents.incident_id = changed_incidents.incident_id
    union
    select unnest(array[
        {{ reporting_date("surveys.opened_at") }}, {{ reporting_date("surveys.answered_at") }}
    ])
    from changed_incidents
    cross join lateral (
        select csat.opened_at, csat.answered_at
        from {{ ref('stg_operational__csat_surveys') }} as csat
        where csat.incident_id = changed_incidents.incident_id
        offset 0
    ) as surveys
    union
    select {{ reporting_date("timers.completed_at") }}
    from changed_incidents
    cross join lateral (
        select sla_timers.completed_at
        from {{ ref('stg_operational__sla_timers') }} as sla_timers
        where sla_timers.incident_id = changed_incidents.incident_id
        offset 0
    ) as timers
)
{% else %}
{%- set metric_dates = [
    "opened_date", "acknowledged_date", "first_resolved_date", "resolved_date",
    "response_completed_date", "resolution_completed_date", reporting_date("csat_answered_at"),
] %}
with bounds as (
    select
        min(least({{ metric_dates | join(", ") }})) as first_day,
        max(greatest({{ metric_dates | join(", ") }})) as last_day
    from {{ ref('fct_incidents') }}
),

touched as (
    select span.day::date as day
    from bounds
    cross join lateral generate_series(
        bounds.first_day::timestamp, bounds.last_day::timestamp, interval '1 day'
    ) as span (day)
)
{% endif %}

select
    day,
    {{ run_watermark() }} as loaded_watermark
from touched
where day is not null
