-- Problems' custom field values, one row per problem and field that has a value (the JSONB
-- object unnested; the value still JSON).
select
    problems.id as problem_id,
    fields.key as field_name,
    fields.value as field_value
from {{ source('operational', 'problems') }} as problems
cross join lateral jsonb_each(problems.custom_fields) as fields
