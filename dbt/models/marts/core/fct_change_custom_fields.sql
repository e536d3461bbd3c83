-- The custom field values of each change, the companion of fct_changes: one row per change
-- and field with a value, typed (join on change_id; slice by field_name and value_text).
select
    values_typed.record_id as change_id,
    changes.change_number,
    values_typed.field_name,
    values_typed.field_label,
    values_typed.field_type,
    values_typed.is_retired_field,
    values_typed.value_text,
    values_typed.value_number,
    values_typed.value_date,
    values_typed.value_timestamp,
    values_typed.value_boolean,
    values_typed.value_json
from {{ ref('int_custom_field_values_typed') }} as values_typed
inner join {{ ref('stg_operational__changes') }} as changes
    on changes.change_id = values_typed.record_id
where values_typed.record_type = 'change'
