-- Team membership. One row per team and member.
select
    team_id,
    user_id,
    team_id::text || ':' || user_id::text as team_member_key,
    is_available,
    last_assigned_at
from {{ source('operational', 'team_members') }}
