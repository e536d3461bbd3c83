-- Blackout windows, renamed. One row per window; a recurring window's first occurrence.
select
    id as blackout_window_id,
    name as blackout_window_name,
    starts_at,
    ends_at,
    timezone,
    rrule,
    rrule is not null as is_recurring,
    environment,
    is_active,
    created_at
from {{ source('operational', 'blackout_windows') }}
