-- Each imported incident's source figures beside the replay of its history, one row per
-- incident and field the source gives (resolved_at, closed_at, reassignment_count,
-- reopen_count), with whether they agree. Times agree when they fall in the same minute (exports
-- write minutes); a difference is replayed minus source, in minutes or counts. A resolved
-- incident whose resolution time is unknown is a resolved_at row with outcome 'unknown'.

with imported as (
    select *
    from {{ ref('fct_incidents') }}
    where is_imported
),

compared as (
    select
        incident_id, 'resolved_at' as field_name, 'minutes' as unit,
        to_char(resolved_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as source_value,
        to_char(replayed_resolved_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as replayed_value,
        {{ minutes_between("resolved_at", "replayed_resolved_at") }} as difference,
        date_trunc('minute', resolved_at) = date_trunc('minute', replayed_resolved_at) as agrees
    from imported
    where resolved_at_basis = 'source'
    union all
    select
        incident_id, 'resolved_at', 'minutes', null,
        to_char(replayed_resolved_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), null, null
    from imported
    where resolved_at_basis = 'unknown'
    union all
    select
        incident_id, 'closed_at', 'minutes',
        to_char(closed_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        to_char(replayed_closed_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        {{ minutes_between("closed_at", "replayed_closed_at") }},
        date_trunc('minute', closed_at) = date_trunc('minute', replayed_closed_at)
    from imported
    -- closed_at is the source's wherever the source gives one (fct_incidents)
    where closed_at is not null and replayed_closed_at is not null
    union all
    select
        imported.incident_id, 'reassignment_count', 'count',
        figures.source_reassignment_count::text, imported.replayed_reassignment_count::text,
        (imported.replayed_reassignment_count - figures.source_reassignment_count)::numeric(14, 2),
        imported.replayed_reassignment_count = figures.source_reassignment_count
    from imported
    inner join {{ ref('stg_operational__incident_source_figures') }} as figures
        on figures.incident_id = imported.incident_id
    where figures.source_reassignment_count is not null
    union all
    select
        imported.incident_id, 'reopen_count', 'count',
        figures.source_reopen_count::text, imported.replayed_reopen_count::text,
        (imported.replayed_reopen_count - figures.source_reopen_count)::numeric(14, 2),
        imported.replayed_reopen_count = figures.source_reopen_count
    from imported
    inner join {{ ref('stg_operational__incident_source_figures') }} as figures
        on figures.incident_id = imported.incident_id
    where figures.source_reopen_count is not null
)

select
    compared.incident_id,
    imported.incident_number,
    imported.source_system,
    imported.external_id,
    compared.field_name,
    compared.unit,
    compared.source_value,
    compared.replayed_value,
    compared.difference,
    case
        when compared.agrees is null then 'unknown'
        when compared.agrees then 'agree'
        when compared.difference < 0 then 'replay_lower'
        else 'replay_higher'
    end as outcome,
    imported.missing_updates,
    imported.resolved_date
from compared
inner join imported on imported.incident_id = compared.incident_id
