-- User accounts with their roles and teams. One row per user. No secrets and no personal
-- contact or login data (email, last login): those are for auditors, in personal.access_review.

with roles as (
    select
        user_id,
        string_agg(role, ', ' order by role) as roles,
        bool_or(is_privileged) as is_privileged
    from {{ ref('stg_operational__user_roles') }}
    group by user_id
),

teams as (
    select
        members.user_id,
        string_agg(teams.team_name, ', ' order by teams.team_name) as team_names
    from {{ ref('stg_operational__team_members') }} as members
    inner join {{ ref('stg_operational__teams') }} as teams on teams.team_id = members.team_id
    group by members.user_id
)

select
    users.user_id,
    users.display_name,
    users.is_active,
    users.is_imported,
    users.source_system,
    users.can_log_in,
    users.is_mfa_enabled,
    coalesce(roles.roles, '') as roles,
    coalesce(roles.is_privileged, false) as is_privileged,
    coalesce(teams.team_names, '') as team_names,
    users.created_at
from {{ ref('stg_operational__users') }} as users
left join roles on roles.user_id = users.user_id
left join teams on teams.user_id = users.user_id
