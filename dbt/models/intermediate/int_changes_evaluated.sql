-- Each change with its CAB evidence, outcome and calendar checks. One row per change.
-- CAB outcomes are read from the event log (cab_outcome events carry their stage and round),
-- because the change row only keeps the round in progress or last held.

with changes as (
    select * from {{ ref('stg_operational__changes') }}
),

change_events as (
    select
        entity_id as change_id,
        event_seq,
        occurred_at,
        field_name,
        old_value,
        new_value,
        event_data
    from {{ ref('stg_operational__events') }}
    where entity_type = 'change' and field_name in ('cab_outcome', 'conflict_override')
),

cab_rounds as (
    select
        change_id,
        event_data ->> 'stage' as approval_stage,
        (event_data ->> 'round')::integer as cab_round,
        max(event_data ->> 'rule') filter (where new_value = 'pending') as cab_rule,
        max((event_data ->> 'quorum')::integer) filter (where new_value = 'pending') as cab_quorum,
        max(occurred_at) filter (where new_value in ('approved', 'rejected')) as decided_at,
        max(new_value) filter (where new_value in ('approved', 'rejected')) as outcome
    from change_events
    where field_name = 'cab_outcome'
    group by 1, 2, 3
),

-- The authorization that counts: the last one decided before implementation began.
authorizations as (
    select distinct on (cab_rounds.change_id)
        cab_rounds.change_id,
        cab_rounds.cab_round,
        cab_rounds.cab_rule,
        cab_rounds.cab_quorum,
        cab_rounds.outcome,
        cab_rounds.decided_at
    from cab_rounds
    inner join changes on changes.change_id = cab_rounds.change_id
    where cab_rounds.approval_stage = 'authorization'
        and (changes.actual_start is null or cab_rounds.decided_at <= changes.actual_start
            or cab_rounds.decided_at is null)
    order by cab_rounds.change_id, (cab_rounds.outcome is not null) desc, cab_rounds.cab_round desc
),

retrospectives as (
    select distinct on (change_id)
        change_id,
        cab_round,
        coalesce(outcome, 'pending') as outcome,
        decided_at
    from cab_rounds
    where approval_stage = 'retrospective'
    order by change_id, cab_round desc
),

round_decisions as (
    select
        approvals.change_id,
        approvals.approval_stage,
        approvals.cab_round,
        count(*) filter (where approvals.is_approved) as approved_count,
        count(*) filter (where not approvals.is_approved) as rejected_count,
        string_agg(
            coalesce(users.display_name, approvals.approver_id::text) || ' (' || approvals.decision || ')',
            '; ' order by approvals.decided_at, approvals.approval_id
        ) as decisions
    from {{ ref('stg_operational__change_approvals') }} as approvals
    left join {{ ref('stg_operational__users') }} as users on users.user_id = approvals.approver_id
    group by 1, 2, 3
),

-- The latest override of a calendar conflict, and whether it was over a blackout window.
overrides as (
    select distinct on (change_id)
        change_id,
        coalesce(
            jsonb_path_exists(event_data, '$.conflicts[*] ? (@.kind == "blackout")'), false
        ) as overrode_blackout
    from change_events
    where field_name = 'conflict_override'
    order by change_id, event_seq desc
),

environments as (
    select change_cis.change_id, cis.environment
    from {{ ref('stg_operational__change_cis') }} as change_cis
    inner join {{ ref('stg_operational__configuration_items') }} as cis
        on cis.ci_id = change_cis.ci_id
),

-- One-off blackout windows overlapping the actual implementation. Recurring windows are expanded
-- only in Python (operational/changes/recurrence.py): they count through the scheduling check.
one_off_blackouts as (
    select distinct changes.change_id
    from changes
    inner join {{ ref('stg_operational__blackout_windows') }} as windows
        on windows.is_active
        and not windows.is_recurring
        and windows.starts_at < coalesce(changes.actual_end, changes.actual_start + interval '1 microsecond')
        and windows.ends_at > changes.actual_start
    where changes.actual_start is not null
        and (
            windows.environment is null
            or windows.environment in (
                select environments.environment
                from environments
                where environments.change_id = changes.change_id
            )
        )
),

caused as (
    select caused_by_change_id as change_id, count(*) as caused_incident_count
    from {{ ref('stg_operational__incidents') }}
    where caused_by_change_id is not null
    group by caused_by_change_id
)

select
    changes.*,
    teams.team_name,
    authorizations.cab_round as authorization_round,
    coalesce(authorizations.cab_rule, case when changes.cab_stage = 'authorization' then changes.cab_rule end)
        as authorization_rule,
    coalesce(authorizations.cab_quorum, case when changes.cab_stage = 'authorization' then changes.cab_quorum end)
        as authorization_quorum,
    coalesce(
        authorizations.outcome,
        case when changes.cab_stage = 'authorization' then changes.cab_outcome end
    ) as authorization_outcome,
    authorizations.decided_at as authorized_at,
    coalesce(authorization_decisions.approved_count, 0) as authorization_approved_count,
    coalesce(authorization_decisions.rejected_count, 0) as authorization_rejected_count,
    authorization_decisions.decisions as authorization_decisions,
    coalesce(
        retrospectives.outcome,
        case when changes.cab_stage = 'retrospective' then changes.cab_outcome end
    ) as retrospective_outcome,
    retrospectives.decided_at as retrospective_decided_at,
    retrospective_decisions.decisions as retrospective_decisions,
    coalesce(overrides.overrode_blackout, false) and changes.conflict_override_reason is not null
        as is_scheduled_over_blackout,
    one_off_blackouts.change_id is not null as is_implemented_in_one_off_blackout,
    coalesce(caused.caused_incident_count, 0) as caused_incident_count
from changes
left join {{ ref('stg_operational__teams') }} as teams on teams.team_id = changes.team_id
left join authorizations on authorizations.change_id = changes.change_id
left join round_decisions as authorization_decisions
    on authorization_decisions.change_id = changes.change_id
    and authorization_decisions.approval_stage = 'authorization'
    and authorization_decisions.cab_round = coalesce(
        authorizations.cab_round,
        case when changes.cab_stage = 'authorization' then changes.cab_round end
    )
left join retrospectives on retrospectives.change_id = changes.change_id
left join round_decisions as retrospective_decisions
    on retrospective_decisions.change_id = changes.change_id
    and retrospective_decisions.approval_stage = 'retrospective'
    and retrospective_decisions.cab_round = coalesce(
        retrospectives.cab_round,
        case when changes.cab_stage = 'retrospective' then changes.cab_round end
    )
left join overrides on overrides.change_id = changes.change_id
left join one_off_blackouts on one_off_blackouts.change_id = changes.change_id
left join caused on caused.change_id = changes.change_id
