-- The custom field values of each problem, the companion of fct_problems: one row per problem
-- and field with a value, typed (join on problem_id; slice by field_name and value_text).
select
    values_typed.record_id as problem_id,
    problems.problem_number,
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
inner join {{ ref('stg_operational__problems') }} as problems
    on problems.problem_id = values_typed.record_id
where values_typed.record_type = 'problem'
