-- Approval turnaround and rejection rate: the approvals decided in the period, how long each
-- waited for its decision (calendar minutes: mean, median, p90), and the share rejected; per
-- stage and per approver. One row per grain, period and slice.

{%- set slice_columns = {"stage": "stage_name", "approver": "approver_name"} %}
{%- set measures -%}
    count(*) as decided_count,
    count(*) filter (where approval_state = 'approved') as approved_count,
    count(*) filter (where approval_state = 'rejected') as rejected_count,
    avg(turnaround_minutes) as mean_minutes,
    percentile_cont(array[0.5, 0.9]) within group (order by turnaround_minutes) as percentiles
{%- endset %}

with decided as (
    select
        decided_date,
        approval_state,
        turnaround_minutes::float8 as turnaround_minutes,
        stage_name,
        approver_name
    from {{ ref('fct_request_approvals') }}
    where is_decided
),

rolled_up as (
    {{ period_slice_rollup(
        "decided", "decided_date", measures=measures,
        slices=var("approval_metric_slices"), slice_columns=slice_columns,
    ) }}
)

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    decided_count,
    approved_count,
    rejected_count,
    (rejected_count::numeric / nullif(decided_count, 0))::numeric(6, 4) as rejection_rate,
    mean_minutes::numeric(14, 2) as turnaround_minutes,
    percentiles[1]::numeric(14, 2) as turnaround_median_minutes,
    percentiles[2]::numeric(14, 2) as turnaround_p90_minutes
from rolled_up
