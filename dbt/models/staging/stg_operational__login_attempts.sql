-- Login attempts, renamed. One row per attempt. The email is as typed (lower-cased here).
select
    id as login_attempt_id,
    lower(email) as email,
    client,
    succeeded as is_success,
    reason as failure_reason,
    attempted_at
from {{ source('operational', 'login_attempts') }}
