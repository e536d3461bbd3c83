-- The incidents behind each problem, for drill-down from fct_problems to the tickets. One row
-- per incident linked to a problem.

select
    links.incident_id,
    incidents.incident_number,
    links.problem_id,
    problems.problem_number,
    incidents.title,
    incidents.state,
    links.opened_at,
    links.opened_date,
    links.had_known_error_at_open,
    links.is_recurrence,
    links.service_name,
    links.category,
    links.configuration_item
from {{ ref('int_problem_links_evaluated') }} as links
inner join {{ ref('stg_operational__incidents') }} as incidents
    on incidents.incident_id = links.incident_id
inner join {{ ref('stg_operational__problems') }} as problems
    on problems.problem_id = links.problem_id
