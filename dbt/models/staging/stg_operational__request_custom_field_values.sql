-- Requests' custom field values (the order's, not its items'), one row per request and field
-- that has a value (the JSONB object unnested; the value still JSON).
select
    requests.id as request_id,
    fields.key as field_name,
    fields.value as field_value
from {{ source('operational', 'requests') }} as requests
cross join lateral jsonb_each(requests.custom_fields) as fields
