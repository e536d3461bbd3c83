-- Problems sliced by the value of a choice custom field: opened and resolved per period, with
-- the time to fix of those resolved. One row per period grain, period start, field and value.
-- A problem without a value for the field is in no row of it.
with

problems as (
    select
        chosen.field_name,
        chosen.field_label,
        chosen.value_text as choice_value,
        fct_problems.opened_date,
        fct_problems.resolved_date as ended_date,
        fct_problems.minutes_to_fix as minutes
    from {{ ref('fct_problem_custom_fields') }} as chosen
    inner join {{ ref('fct_problems') }} as fct_problems
        on fct_problems.problem_id = chosen.problem_id
    where chosen.field_type = 'choice'
)

{{ choice_value_rollup("problems", "resolved_count", "minutes_to_fix_mean") }}
