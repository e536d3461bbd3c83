-- Teams (assignment groups), renamed. One row per team.
select
    id as team_id,
    name as team_name,
    email as team_email,
    assignment_strategy,
    is_active,
    created_at
from {{ source('operational', 'teams') }}
