-- Changes' custom field values, one row per change and field that has a value (the JSONB
-- object unnested; the value still JSON).
select
    changes.id as change_id,
    fields.key as field_name,
    fields.value as field_value
from {{ source('operational', 'changes') }} as changes
cross join lateral jsonb_each(changes.custom_fields) as fields
