-- The custom field values of each request (the order, not its items), the companion of
-- fct_requests: one row per request and field with a value, typed (join on request_id; slice by
-- field_name and value_text).
select
    values_typed.record_id as request_id,
    requests.request_number,
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
inner join {{ ref('stg_operational__requests') }} as requests
    on requests.request_id = values_typed.record_id
where values_typed.record_type = 'request'
