{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="incident_id",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- Every resolution of every incident, numbered, with the reopen that undid it (if any).
-- One row per resolution. The last resolution of a reopened incident is the one that counts
-- for MTTR.

with scope as (
    {% if is_incremental() %}{{ lifecycle_refresh_scope() }}{% else %}select null::bigint as incident_id{% endif %}
),

transitions as (
    select
        incident_id,
        event_id,
        event_seq,
        occurred_at,
        recorded_at,
        actor_id,
        old_value,
        new_value,
        is_resolution,
        is_reopen
    from {{ ref('int_incident_events_classified') }}
    where (is_resolution or is_reopen)
    {% if is_incremental() %}
        and incident_id in (select incident_id from scope)
    {% endif %}
),

sequenced as (
    select
        *,
        -- The first reopen after this event (reopens and resolutions alternate).
        min(occurred_at) filter (where is_reopen) over later_events as reopened_at,
        min(event_seq) filter (where is_reopen) over later_events as reopen_event_seq
    from transitions
    window later_events as (
        partition by incident_id order by event_seq
        rows between 1 following and unbounded following
    )
)

select
    sequenced.incident_id::text || ':' || row_number() over (
        partition by sequenced.incident_id order by sequenced.event_seq
    )::text as resolution_key,
    sequenced.incident_id,
    row_number() over (
        partition by sequenced.incident_id order by sequenced.event_seq
    ) as resolution_number,
    sequenced.event_id as resolution_event_id,
    sequenced.event_seq as resolution_event_seq,
    sequenced.occurred_at as resolved_at,
    sequenced.actor_id as resolved_by_id,
    sequenced.old_value as resolved_from_state,
    sequenced.new_value as resolved_to_state,
    sequenced.reopened_at,
    sequenced.reopen_event_seq,
    sequenced.reopened_at is not null as was_reopened,
    lifecycle.source_recorded_at,
    {{ run_watermark() }} as loaded_watermark
from sequenced
inner join {{ ref('int_incidents_lifecycle_rebuilt') }} as lifecycle
    on lifecycle.incident_id = sequenced.incident_id
where sequenced.is_resolution
