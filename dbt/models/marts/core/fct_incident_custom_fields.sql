-- The custom field values of each incident, the companion of fct_incidents: one row per incident
-- and field with a value, typed (join on incident_id; slice by field_name and value_text).
select
    values_typed.record_id as incident_id,
    incidents.incident_number,
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
inner join {{ ref('stg_operational__incidents') }} as incidents
    on incidents.incident_id = values_typed.record_id
where values_typed.record_type = 'incident'
