-- Teams (assignment groups) with their current membership and open workload.
-- One row per team.

with members as (
    select
        team_id,
        count(*) as member_count,
        count(*) filter (where is_available) as available_member_count
    from {{ ref('stg_operational__team_members') }}
    group by team_id
),

workload as (
    select team_id, count(*) as open_incident_count
    from {{ ref('fct_incidents') }}
    where is_open
    group by team_id
)

select
    teams.team_id,
    teams.team_name,
    teams.team_email,
    teams.assignment_strategy,
    teams.is_active,
    teams.created_at,
    coalesce(members.member_count, 0) as member_count,
    coalesce(members.available_member_count, 0) as available_member_count,
    coalesce(workload.open_incident_count, 0) as open_incident_count
from {{ ref('stg_operational__teams') }} as teams
left join members on members.team_id = teams.team_id
left join workload on workload.team_id = teams.team_id
