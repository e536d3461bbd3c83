-- Request satisfaction surveys, renamed. One row per survey. The token is not read.
select
    id as survey_id,
    request_id,
    requester_id,
    opened_at,
    answered_at,
    rating,
    answered_at is not null as is_answered
from {{ source('operational', 'request_csat_surveys') }}
