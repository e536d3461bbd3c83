-- The custom field values of each incident, the companion of fct_incidents: one row per incident
-- and field with a value, typed (join on incident_id; slice by field_name and value_text).
{{ custom_field_values_of('incident') }}
