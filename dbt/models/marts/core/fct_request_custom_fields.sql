-- The custom field values of each request (the order, not its items), the companion of
-- fct_requests: one row per request and field with a value, typed (join on request_id; slice by
-- field_name and value_text).
{{ custom_field_values_of('request') }}
