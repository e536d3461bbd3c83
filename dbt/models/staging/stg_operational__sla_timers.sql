-- SLA timers as the Python engine computed them, renamed and categorized. One row per timer.
-- Business minutes: elapsed (clock running) and paused (clock stopped) are both business time.
select
    id as timer_id,
    incident_id,
    target as target_type,
    policy_id,
    target_minutes,
    started_at,
    due_at,
    state as timer_state,
    completed_at,
    breached_at,
    elapsed_minutes::numeric(14, 2) as elapsed_business_minutes,
    paused_minutes::numeric(14, 2) as paused_business_minutes,
    -- Completed: stopped for good, met or breached (a cancelled timer is not completed).
    state in ('met', 'breached') and completed_at is not null as is_completed,
    state = 'met' and completed_at is not null as is_met,
    state = 'breached' or breached_at is not null as is_breached,
    computed_at
from {{ source('operational', 'sla_timers') }}
