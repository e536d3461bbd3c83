-- The custom field values of each change, the companion of fct_changes: one row per change
-- and field with a value, typed (join on change_id; slice by field_name and value_text).
{{ custom_field_values_of('change') }}
