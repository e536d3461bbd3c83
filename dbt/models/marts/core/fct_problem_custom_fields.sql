-- The custom field values of each problem, the companion of fct_problems: one row per problem
-- and field with a value, typed (join on problem_id; slice by field_name and value_text).
{{ custom_field_values_of('problem') }}
