-- Satisfaction surveys, renamed and categorized. One row per survey. The token is not read.
select
    id as survey_id,
    incident_id,
    requester_id,
    opened_at,
    expires_at,
    answered_at,
    rating,
    comment,
    answered_at is not null as is_answered,
    rating >= 4 as is_satisfied
from {{ source('operational', 'csat_surveys') }}
