{#- closed_at: the backlog's refresh reads the stretches still open after a given day. -#}
{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="incident_id",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
            {"columns": ["closed_at"]},
        ],
    )
}}

-- The stretches during which an incident was open (new, assigned, in progress or on hold):
-- from its opening, or a reopen, to the next resolution, closure or cancellation.
-- One row per stretch; the backlog counts incidents whose stretch covers the end of a day.

with scope as (
    {% if is_incremental() %}
    {{ lifecycle_refresh_scope() }}
    union
    select incident_id
    from {{ ref('stg_operational__incidents') }}
    where created_at >= {{ incremental_since() }}
    {% else %}select null::bigint as incident_id{% endif %}
),

incidents as (
    select incident_id, opened_at, created_at
    from {{ ref('stg_operational__incidents') }}
    {% if is_incremental() %}
    where incident_id in (select incident_id from scope)
    {% endif %}
),

transitions as (
    select incident_id, event_seq, occurred_at, recorded_at, is_reopen, is_open_exit
    from {{ ref('int_incident_events_classified') }}
    where (is_reopen or is_open_exit)
    {% if is_incremental() %}
        and incident_id in (select incident_id from scope)
    {% endif %}
),

entries as (
    select incident_id, 0 as event_seq, opened_at as occurred_at
    from incidents
    union all
    select incident_id, event_seq, occurred_at
    from transitions
    where is_reopen
),

numbered_entries as (
    select
        *,
        row_number() over (partition by incident_id order by event_seq) as interval_number
    from entries
),

numbered_exits as (
    select
        incident_id,
        occurred_at,
        row_number() over (partition by incident_id order by event_seq) as interval_number
    from transitions
    where is_open_exit
)

select
    numbered_entries.incident_id::text || ':' || numbered_entries.interval_number::text
        as open_interval_key,
    numbered_entries.incident_id,
    numbered_entries.interval_number,
    numbered_entries.occurred_at as opened_at,
    -- Never before its own start, whatever an imported history says.
    case
        when numbered_exits.occurred_at is not null
            then greatest(numbered_exits.occurred_at, numbered_entries.occurred_at)
    end as closed_at,
    greatest(incidents.created_at, lifecycle.source_recorded_at) as source_recorded_at,
    {{ run_watermark() }} as loaded_watermark
from numbered_entries
inner join incidents on incidents.incident_id = numbered_entries.incident_id
left join numbered_exits
    on numbered_exits.incident_id = numbered_entries.incident_id
    and numbered_exits.interval_number = numbered_entries.interval_number
left join {{ ref('int_incidents_lifecycle_rebuilt') }} as lifecycle
    on lifecycle.incident_id = numbered_entries.incident_id
