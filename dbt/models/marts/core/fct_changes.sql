-- One row per change with its type, outcome, CAB evidence and caused incidents.

select
    change_id,
    change_number,
    title,
    change_type,
    change_type = 'emergency' as is_emergency,
    state,
    risk_level,
    risk_score,
    team_id,
    team_name,
    requester_id,
    implementer_id,
    planned_start,
    planned_end,
    actual_start,
    actual_end,
    opened_at,
    {{ reporting_date("opened_at") }} as opened_date,
    closed_at,
    {{ reporting_date("closed_at") }} as closed_date,
    is_implemented,
    is_completed,
    review_outcome,
    review_caused_incidents,
    caused_incident_count,
    -- Successful: closed by a successful review, and causing no incident.
    case
        when is_completed
            then state = 'closed'
                and not coalesce(review_caused_incidents, false)
                and caused_incident_count = 0
    end as is_successful,
    authorization_outcome,
    retrospective_outcome,
    source_system,
    is_imported,
    updated_at
from {{ ref('int_changes_evaluated') }}
