-- Incidents' custom field values, one row per incident and field that has a value (the JSONB
-- object unnested; the value still JSON).
select
    incidents.id as incident_id,
    fields.key as field_name,
    fields.value as field_value
from {{ source('operational', 'incidents') }} as incidents
cross join lateral jsonb_each(incidents.custom_fields) as fields
