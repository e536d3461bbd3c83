-- Problems opened, resolved and closed per grain, period and slice: the flows that
-- problems_per_period adds up into the problems open at the end of each period. A problem ends
-- when it is resolved, or when it is closed without a resolution (a duplicate, say).

with flows as (
    select
        opened_date as flow_date,
        team_name,
        service_name,
        category,
        1 as opened,
        0 as resolved,
        0 as ended
    from {{ ref('fct_problems') }}
    union all
    select
        resolved_date,
        team_name,
        service_name,
        category,
        0,
        1,
        0
    from {{ ref('fct_problems') }}
    where resolved_date is not null
    union all
    select
        ended_date,
        team_name,
        service_name,
        category,
        0,
        0,
        1
    from {{ ref('fct_problems') }}
    where ended_date is not null
),

{{ additive_rollup(
    "flows",
    "flow_date",
    slices=var("problem_metric_slices"),
    slice_columns={"team": "team_name", "service": "service_name", "category": "category"},
    sums=[
        ["opened_count", "opened"],
        ["resolved_count", "resolved"],
        ["ended_count", "ended"],
    ],
    finals=[["open_change_count", "(opened_count - ended_count)::bigint"]],
) }}
