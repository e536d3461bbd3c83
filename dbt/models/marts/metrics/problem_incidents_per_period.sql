-- Incidents and their problems, by the period the incidents were opened: how many were linked to
-- a problem, how many were opened while their problem was a published known error (the
-- workaround was at hand), and how many recurred after their problem was resolved (the fix did
-- not hold); each also as a share of the incidents opened. Sliced by CI, service and category.

with incidents as (
    select
        incidents.opened_date,
        incidents.service_name,
        incidents.category,
        incidents.configuration_item,
        links.problem_id is not null as is_linked,
        coalesce(links.had_known_error_at_open, false) as had_known_error_at_open,
        coalesce(links.is_recurrence, false) as is_recurrence
    from {{ ref('fct_incidents') }} as incidents
    left join {{ ref('int_problem_links_evaluated') }} as links
        on links.incident_id = incidents.incident_id
),

{{ additive_rollup(
    "incidents",
    "opened_date",
    slices=var("problem_incident_slices"),
    slice_columns={"ci": "configuration_item", "service": "service_name", "category": "category"},
    sums=[
        ["opened_count", "1"],
        ["linked_count", "case when is_linked then 1 else 0 end"],
        ["known_error_at_open_count", "case when had_known_error_at_open then 1 else 0 end"],
        ["recurrence_count", "case when is_recurrence then 1 else 0 end"],
    ],
    finals=[
        ["linked_share", "(linked_count::numeric / nullif(opened_count, 0))::numeric(6, 4)"],
        ["known_error_share", "(known_error_at_open_count::numeric / nullif(opened_count, 0))::numeric(6, 4)"],
    ],
) }}
