-- Requests, renamed. One row per request.
select
    id as request_id,
    number as request_number,
    requester_id,
    state as request_state,
    opened_at,
    closed_at,
    source_system,
    source_system <> 'native' as is_imported,
    created_at,
    updated_at
from {{ source('operational', 'requests') }}
