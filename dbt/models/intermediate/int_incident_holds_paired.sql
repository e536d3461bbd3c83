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

-- On-hold stretches: each move into on_hold paired with the move out of it. One row per stretch.
-- The reason is the hold reason in force at the end of the stretch (or now, while it lasts):
-- whether recorded before, with or just after the move into on_hold.

with scope as (
    {% if is_incremental() %}{{ lifecycle_refresh_scope() }}{% else %}select null::bigint as incident_id{% endif %}
),

hold_events as (
    select
        incident_id,
        event_seq,
        occurred_at,
        recorded_at,
        is_hold_start,
        is_hold_end,
        is_hold_reason_recorded,
        hold_reason
    from {{ ref('int_incident_events_classified') }}
    where (is_hold_start or is_hold_end or is_hold_reason_recorded)
    {% if is_incremental() %}
        and incident_id in (select incident_id from scope)
    {% endif %}
),

reason_groups as (
    select
        *,
        count(*) filter (where is_hold_reason_recorded) over (
            partition by incident_id order by event_seq
        ) as reason_group
    from hold_events
),

reasons_in_force as (
    select
        *,
        -- Each group holds one recorded reason (its first row) and the events that follow it.
        max(hold_reason) over (partition by incident_id, reason_group) as reason_in_force
    from reason_groups
),

current_reasons as (
    select distinct on (incident_id) incident_id, reason_in_force as current_reason
    from reasons_in_force
    order by incident_id, event_seq desc
),

boundaries as (
    select
        incident_id,
        event_seq,
        occurred_at,
        is_hold_start,
        lead(event_seq) over by_seq as next_seq,
        lead(occurred_at) over by_seq as next_occurred_at,
        lead(is_hold_end) over by_seq as next_is_end,
        lead(reason_in_force) over by_seq as next_reason
    from reasons_in_force
    where is_hold_start or is_hold_end
    window by_seq as (partition by incident_id order by event_seq)
),

stretches as (
    select
        boundaries.incident_id,
        row_number() over (partition by boundaries.incident_id order by boundaries.event_seq)
            as hold_number,
        boundaries.event_seq as start_event_seq,
        boundaries.occurred_at as started_at,
        case when boundaries.next_is_end then boundaries.next_seq end as end_event_seq,
        case when boundaries.next_is_end then boundaries.next_occurred_at end as ended_at,
        case
            when boundaries.next_is_end then boundaries.next_reason
            else current_reasons.current_reason
        end as hold_reason
    from boundaries
    left join current_reasons on current_reasons.incident_id = boundaries.incident_id
    where boundaries.is_hold_start
)

select
    stretches.incident_id::text || ':' || stretches.hold_number::text as hold_key,
    stretches.incident_id,
    stretches.hold_number,
    stretches.start_event_seq,
    stretches.end_event_seq,
    stretches.started_at,
    stretches.ended_at,
    stretches.ended_at is null as is_ongoing,
    stretches.hold_reason,
    coalesce(stretches.hold_reason = 'awaiting_caller', false) as is_awaiting_caller,
    {{ minutes_between("stretches.started_at", "stretches.ended_at") }} as calendar_minutes,
    lifecycle.source_recorded_at,
    {{ run_watermark() }} as loaded_watermark
from stretches
inner join {{ ref('int_incidents_lifecycle_rebuilt') }} as lifecycle
    on lifecycle.incident_id = stretches.incident_id
