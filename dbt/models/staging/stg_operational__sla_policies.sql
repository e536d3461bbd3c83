-- SLA policies, renamed. One row per policy.
select
    id as policy_id,
    name as policy_name,
    is_active,
    priority,
    service as service_name,
    category,
    calendar_id,
    response_minutes as response_target_minutes,
    resolution_minutes as resolution_target_minutes
from {{ source('operational', 'sla_policies') }}
