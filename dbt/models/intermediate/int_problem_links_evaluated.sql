-- One row per incident linked to a problem, with what the link says about the problem's work:
-- whether the problem was a published known error when the incident was opened (so the agent had
-- a workaround at hand), and whether the incident came after the problem was resolved (a
-- recurrence: the fix did not hold).

select
    incidents.incident_id,
    incidents.problem_id,
    incidents.opened_at,
    {{ reporting_date("incidents.opened_at") }} as opened_date,
    incidents.service_name,
    incidents.category,
    incidents.configuration_item,
    incidents.is_open,
    coalesce(problems.known_error_at <= incidents.opened_at, false) as had_known_error_at_open,
    coalesce(incidents.opened_at > problems.resolved_at, false) as is_recurrence
from {{ ref('stg_operational__incidents') }} as incidents
inner join {{ ref('stg_operational__problems') }} as problems
    on problems.problem_id = incidents.problem_id
