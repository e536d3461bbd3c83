-- Access review: every user account with its roles, MFA status and last login, and the
-- privileged accounts without MFA. One row per user. Personal data (emails, login activity):
-- built in schema personal, which only auditors read (docs/security.md, "Database roles").

with logins as (
    select
        email,
        max(attempted_at) filter (where is_success) as last_successful_login_at,
        max(attempted_at) filter (where not is_success) as last_failed_login_at,
        count(*) filter (
            where not is_success and attempted_at > now() - interval '30 days'
        ) as failed_logins_last_30_days
    from {{ ref('stg_operational__login_attempts') }}
    group by email
),

role_changes as (
    select entity_id as user_id, max(occurred_at) as roles_changed_at
    from {{ ref('stg_operational__events') }}
    where entity_type = 'user' and event_kind in ('user_created', 'user_roles_changed')
    group by entity_id
)

select
    users.user_id,
    users.display_name,
    accounts.email,
    users.is_active,
    users.is_imported,
    users.can_log_in,
    users.roles,
    users.is_privileged,
    users.team_names,
    users.is_mfa_enabled,
    users.is_privileged and users.is_active and users.can_log_in and not users.is_mfa_enabled
        as is_privileged_without_mfa,
    coalesce(accounts.last_login_at, logins.last_successful_login_at) as last_login_at,
    logins.last_failed_login_at,
    coalesce(logins.failed_logins_last_30_days, 0) as failed_logins_last_30_days,
    -- Days since the last login (or since the account was created, if never), as of the build.
    (current_date - coalesce(accounts.last_login_at, logins.last_successful_login_at, users.created_at)::date)
        as days_since_last_login,
    role_changes.roles_changed_at,
    users.created_at
from {{ ref('dim_users') }} as users
inner join {{ ref('stg_operational__users') }} as accounts on accounts.user_id = users.user_id
left join logins on logins.email = lower(accounts.email)
left join role_changes on role_changes.user_id = users.user_id
