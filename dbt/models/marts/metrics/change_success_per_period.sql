-- Change success rate: among changes completed in the period (reviewed and closed as
-- successful, failed or backed out), the share closed as successful and causing no incident;
-- and the share of emergency changes among them. One row per grain, period and slice.

with completed as (
    select
        closed_date,
        state,
        is_successful,
        is_emergency,
        caused_incident_count,
        review_caused_incidents,
        team_name,
        change_type,
        risk_level
    from {{ ref('fct_changes') }}
    where is_completed
),

{{ additive_rollup(
    "completed",
    "closed_date",
    slices=var("change_metric_slices"),
    slice_columns={"team": "team_name", "change_type": "change_type", "risk_level": "risk_level"},
    sums=[
        ["completed_count", "1"],
        ["successful_count", "case when is_successful then 1 else 0 end"],
        ["failed_count", "case when state = 'failed' then 1 else 0 end"],
        ["backed_out_count", "case when state = 'backed_out' then 1 else 0 end"],
        ["caused_incident_count", "case when caused_incident_count > 0 or review_caused_incidents then 1 else 0 end"],
        ["emergency_count", "case when is_emergency then 1 else 0 end"],
    ],
    finals=[
        ["success_rate", "(successful_count::numeric / nullif(completed_count, 0))::numeric(6, 4)"],
        ["emergency_share", "(emergency_count::numeric / nullif(completed_count, 0))::numeric(6, 4)"],
    ],
) }}
