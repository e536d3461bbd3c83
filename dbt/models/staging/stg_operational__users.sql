-- User accounts, renamed. One row per user. Secrets (password and MFA secret) are not read.
select
    id as user_id,
    email,
    display_name,
    is_active,
    timezone,
    source_system,
    source_system <> 'native' as is_imported,
    external_id,
    password_hash is not null as can_log_in,
    mfa_enabled as is_mfa_enabled,
    must_change_password,
    failed_login_count,
    locked_until,
    last_login_at,
    created_at,
    updated_at
from {{ source('operational', 'users') }}
