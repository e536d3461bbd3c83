{#- The typed custom field values of one record type, with the record's id and number as
    `<record_type>_id` and `<record_type>_number` from its staging model
    (stg_operational__<record_type>s): the body of each fct_<record_type>_custom_fields. -#}
{% macro custom_field_values_of(record_type) -%}
select
    values_typed.record_id as {{ record_type }}_id,
    records.{{ record_type }}_number,
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
inner join {{ ref('stg_operational__' ~ record_type ~ 's') }} as records
    on records.{{ record_type }}_id = values_typed.record_id
where values_typed.record_type = '{{ record_type }}'
{%- endmacro %}
