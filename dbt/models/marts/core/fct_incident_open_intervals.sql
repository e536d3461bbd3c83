{{ config(materialized="view") }}

-- The stretches during which each incident was open, with its number and slices, so that any
-- backlog figure can be listed ticket by ticket: an incident counts in the backlog at the end of
-- day D when opened_at is before the end of D and closed_at is null or not before it.
-- One row per stretch. A view: nothing is copied.

select
    intervals.open_interval_key,
    intervals.incident_id,
    incidents.incident_number,
    intervals.interval_number,
    intervals.opened_at,
    intervals.closed_at,
    incidents.opened_at as incident_opened_at,
    incidents.priority_label,
    incidents.team_name,
    incidents.service_name,
    incidents.category,
    incidents.channel,
    incidents.lifecycle_status,
    intervals.loaded_watermark
from {{ ref('int_incident_open_intervals_paired') }} as intervals
inner join {{ ref('fct_incidents') }} as incidents
    on incidents.incident_id = intervals.incident_id
