{{
    config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="incident_id",
        on_schema_change="fail",
        analyze_after_refresh=True,
        indexes=[
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- Each incident's lifecycle rebuilt from its events: acknowledgement, resolutions, reopens and
-- reassignments (on-hold stretches: int_incident_holds_paired). One row per incident that has
-- lifecycle events.
-- An incremental run rebuilds every incident that has new events, from all of its events.

with scope as (
    {% if is_incremental() %}{{ classified_refresh_scope() }}{% else %}select null::bigint as incident_id{% endif %}
),

lifecycle_events as (
    select *
    from {{ ref('int_incident_events_classified') }}
    {% if is_incremental() %}
    where incident_id in (select incident_id from scope)
    {% endif %}
),

requesters as (
    select incident_id, requester_id
    from {{ ref('stg_operational__incidents') }}
    {% if is_incremental() %}
    where incident_id in (select incident_id from scope)
    {% endif %}
),

summary as (
    select
        lifecycle_events.incident_id,
        max(lifecycle_events.recorded_at) as source_recorded_at,
        min(lifecycle_events.occurred_at) filter (where is_manual_assignee_assignment)
            as first_assignee_assigned_at,
        min(lifecycle_events.occurred_at) filter (where is_moved_to_in_progress)
            as first_in_progress_at,
        -- Requesters see and comment only on their own incidents, so a public comment by anyone
        -- other than the requester is an agent's.
        min(lifecycle_events.occurred_at) filter (
            where is_public_comment
                and lifecycle_events.actor_id is not null
                and lifecycle_events.actor_id is distinct from requesters.requester_id
        ) as first_agent_public_comment_at,
        min(lifecycle_events.occurred_at) filter (where is_group_assignment)
            as first_group_assigned_at,
        count(*) filter (where is_group_assignment) as group_assignment_count,
        count(*) filter (where is_reassignment) as reassignment_count,
        count(*) filter (where is_reopen) as reopen_count,
        count(*) filter (where is_resolution) as resolution_count,
        min(lifecycle_events.occurred_at) filter (where is_resolution) as first_resolved_at,
        max(lifecycle_events.occurred_at) filter (where is_resolution) as last_resolution_at,
        max(lifecycle_events.occurred_at) filter (where is_closure) as last_closure_at,
        max(lifecycle_events.occurred_at) filter (where is_reopen) as last_reopened_at,
        max(lifecycle_events.occurred_at) filter (where is_cancellation) as last_cancellation_at,
        max(event_seq) filter (where is_open_exit) as last_exit_seq,
        max(event_seq) filter (where is_reopen) as last_reopen_seq,
        max(event_seq) filter (where is_cancellation) as last_cancellation_seq,
        max(event_seq) filter (where is_closure) as last_closure_seq
    from lifecycle_events
    left join requesters on requesters.incident_id = lifecycle_events.incident_id
    group by lifecycle_events.incident_id
),

statuses as (
    select
        *,
        -- Out of the open states, and not reopened since.
        last_exit_seq is not null and last_exit_seq > coalesce(last_reopen_seq, 0) as is_finished,
        last_cancellation_seq is not null
            and last_cancellation_seq = last_exit_seq
            and last_exit_seq > coalesce(last_reopen_seq, 0) as is_cancelled
    from summary
)

select
    statuses.incident_id,
    least(first_assignee_assigned_at, first_in_progress_at, first_agent_public_comment_at)
        as acknowledged_at,
    case least(first_assignee_assigned_at, first_in_progress_at, first_agent_public_comment_at)
        when first_assignee_assigned_at then 'assigned_to_person'
        when first_in_progress_at then 'moved_to_in_progress'
        when first_agent_public_comment_at then 'agent_public_comment'
    end as acknowledgement_kind,
    first_assignee_assigned_at,
    first_in_progress_at,
    first_agent_public_comment_at,
    first_group_assigned_at,
    group_assignment_count,
    reassignment_count,
    reopen_count,
    resolution_count,
    first_resolved_at,
    case when is_finished and not is_cancelled then last_resolution_at end as resolved_at,
    case
        when is_finished and not is_cancelled and last_closure_seq > coalesce(last_reopen_seq, 0)
            then last_closure_at
    end as closed_at,
    case when is_cancelled then last_cancellation_at end as cancelled_at,
    last_reopened_at,
    case
        when is_cancelled then 'cancelled'
        when is_finished then 'resolved'
        else 'open'
    end as lifecycle_status,
    statuses.source_recorded_at,
    {{ run_watermark() }} as loaded_watermark
from statuses
