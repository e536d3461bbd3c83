-- What the source system says of each imported incident, beside the replay of its history.
-- One row per imported incident.
select
    incident_id,
    source_system,
    source_resolved_at,
    source_closed_at,
    source_reassignment_count,
    source_reopen_count,
    resolution_time_unknown as is_resolution_time_unknown,
    missing_updates,
    updated_at
from {{ source('operational', 'incident_source_figures') }}
