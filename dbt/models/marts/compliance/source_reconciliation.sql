-- Every imported incident whose replayed value differs from the source's own, per field, with
-- both values (and those whose resolution time the source does not know). One row per incident
-- and field that differs. The figures that win in the marts are the source's (fct_incidents).

select
    incident_id,
    incident_number,
    source_system,
    external_id,
    field_name,
    unit,
    source_value,
    replayed_value,
    difference,
    outcome,
    missing_updates,
    resolved_date
from {{ ref('int_source_figures_compared') }}
where outcome <> 'agree'
