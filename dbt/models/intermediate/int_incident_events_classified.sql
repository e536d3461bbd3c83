{{ config(materialized="view") }}

-- The incident events that shape a lifecycle, each classified once: states, assignments, public
-- comments, hold reasons, and requester changes (which decide who counts as an agent).
-- One row per event. A view: the models that read it filter on incident_id or recorded_at, which
-- the event log's own indexes serve (its key on entity_type, entity_id, seq, and a BRIN index on
-- recorded_at). A copy of the eight million lifecycle events of the bench's history took 18-20 s
-- of a full build to write and index; reading the log in place costs the four models that read
-- it about 5 s more in all.

-- One select, no CTE: PostgreSQL then flattens the view into the query that reads it, and an
-- incremental run's "incident_id in (...)" reaches the event log's key (behind a CTE it scanned
-- the whole log once per changed incident).
select
    events.event_id,
    events.entity_id as incident_id,
    events.event_seq,
    events.occurred_at,
    events.recorded_at,
    -- Imported comments name their actor by the source's label: match it to the imported user
    -- (unique on source_system, external_id). Looked up for those events only: a join would hash
    -- every event of the log.
    coalesce(
        events.actor_id,
        case
            when events.event_kind = 'comment_added' then (
                select imported_actors.user_id
                from {{ ref('stg_operational__users') }} as imported_actors
                where imported_actors.source_system = events.source_system
                    and imported_actors.external_id = events.actor_label
            )
        end
    ) as actor_id,
    events.source_system,
    events.event_kind,
    events.field_name,
    events.old_value,
    events.new_value,
    event_kind = 'assigned' and field_name = 'assignee' and new_value is not null
        as is_assignee_assignment,
    -- Assigned to a person by a person: not by an assignment rule, a round-robin pick or an SLA
    -- escalation (the event data names those), nor by the system.
    event_kind = 'assigned' and field_name = 'assignee' and new_value is not null
        and not coalesce(
            event_data ?| array['rule_id', 'assignment_rule_id', 'picked_by', 'escalation_rule_id'],
            false
        )
        -- (the log's own actor: only comments are matched to imported users)
        and (events.actor_id is not null or events.source_system <> 'native')
        as is_manual_assignee_assignment,
    event_kind = 'assigned' and field_name = 'assignment_group' and new_value is not null
        as is_group_assignment,
    -- A reassignment moves the incident from one team to another (both known, and different).
    event_kind = 'assigned' and field_name = 'assignment_group'
        and old_value is not null and new_value is not null and old_value <> new_value
        as is_reassignment,
    event_kind = 'comment_added' as is_public_comment,
    event_kind = 'state_changed' and new_value = 'in_progress' as is_moved_to_in_progress,
    -- A resolution: into resolved, or straight into closed from a state other than resolved.
    event_kind = 'state_changed'
        and (new_value = 'resolved' or (new_value = 'closed' and old_value is distinct from 'resolved'))
        as is_resolution,
    event_kind = 'state_changed' and new_value = 'closed' as is_closure,
    event_kind = 'state_changed' and new_value = 'cancelled' as is_cancellation,
    -- A reopen: out of resolved or closed, back into an open state.
    event_kind = 'state_changed' and old_value in ('resolved', 'closed')
        and new_value in ('new', 'assigned', 'in_progress', 'on_hold')
        as is_reopen,
    -- Leaving the open states (into resolved, closed or cancelled).
    event_kind = 'state_changed'
        and (old_value is null or old_value in ('new', 'assigned', 'in_progress', 'on_hold'))
        and new_value in ('resolved', 'closed', 'cancelled')
        as is_open_exit,
    event_kind = 'state_changed' and new_value = 'on_hold'
        and old_value is distinct from 'on_hold' as is_hold_start,
    event_kind = 'state_changed' and old_value = 'on_hold'
        and new_value is distinct from 'on_hold' as is_hold_end,
    -- The hold reason, whether recorded as its own field change or on the state change.
    case
        when field_name = 'hold_reason' then new_value
        when event_kind = 'state_changed' and new_value = 'on_hold'
            then event_data ->> 'hold_reason'
    end as hold_reason,
    field_name = 'hold_reason'
        or (event_kind = 'state_changed' and new_value = 'on_hold' and event_data ? 'hold_reason')
        as is_hold_reason_recorded
from {{ ref('stg_operational__events') }} as events
where events.entity_type = 'incident'
    and (
        events.event_kind in ('assigned', 'state_changed', 'comment_added')
        or events.field_name in ('hold_reason', 'requester')
    )
