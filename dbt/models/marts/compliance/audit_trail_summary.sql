{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="activity_date",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- Audit-trail summary: what the append-only event log holds, per day of occurrence, kind of
-- record and kind of event, by whom. One row per day, entity type and event kind.
-- Incremental: the days touched by newly recorded events are recounted whole.

{% if is_incremental() %}
with touched_days as (
    select distinct {{ reporting_date("occurred_at") }} as activity_date
    from {{ ref('stg_operational__events') }}
    where recorded_at >= {{ incremental_since() }}
),

-- Every event of those days, a day at a time through the log's BRIN index on occurred_at (a
-- lateral subquery kept apart by "offset 0", so that each day is its own index range).
events as (
    select day_events.*, touched_days.activity_date
    from touched_days
    cross join lateral (
        select *
        from {{ ref('stg_operational__events') }} as logged
        where logged.occurred_at >= {{ reporting_day_start("touched_days.activity_date") }}
            and logged.occurred_at < {{ reporting_day_start("touched_days.activity_date + 1") }}
        offset 0
    ) as day_events
)
{% else %}
with events as (
    select *, {{ reporting_date("occurred_at") }} as activity_date
    from {{ ref('stg_operational__events') }}
)
{% endif %}

select
    activity_date::text || ':' || entity_type || ':' || event_kind as audit_key,
    activity_date,
    entity_type,
    event_kind,
    count(*) as event_count,
    count(distinct entity_id) as record_count,
    count(distinct actor_id) as actor_count,
    count(*) filter (where actor_id is null) as system_event_count,
    count(*) filter (where source_system <> 'native') as imported_event_count,
    count(*) filter (where is_synthesized) as synthesized_event_count,
    min(occurred_at) as first_occurred_at,
    max(occurred_at) as last_occurred_at,
    max(recorded_at) as max_recorded_at,
    {{ run_watermark() }} as loaded_watermark
from events
group by activity_date, entity_type, event_kind
