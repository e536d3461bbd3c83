-- Time to root cause and time to fix: calendar minutes from a problem's opening to its root
-- cause first being recorded (dated by that day), and to its (last) resolution (dated by the
-- resolution day); mean, median and p90 per grain, period, slice and measure.

with durations as (
    select
        'time_to_root_cause'::text as measure,
        root_cause_date as measure_date,
        minutes_to_root_cause as minutes,
        team_name,
        service_name,
        category,
        root_cause_category
    from {{ ref('fct_problems') }}
    where minutes_to_root_cause is not null
    union all
    select
        'time_to_fix',
        resolved_date,
        minutes_to_fix,
        team_name,
        service_name,
        category,
        root_cause_category
    from {{ ref('fct_problems') }}
    where minutes_to_fix is not null
),

rolled as (
    {{ period_slice_rollup(
        "durations",
        "measure_date",
        measures="count(*) as problem_count, avg(minutes) as mean_minutes,
            percentile_cont(array[0.5, 0.9]) within group (order by minutes) as percentiles",
        extra_keys=["measure"],
        slices=var("problem_metric_slices") + ["root_cause_category"],
        slice_columns={"team": "team_name", "service": "service_name", "category": "category",
                       "root_cause_category": "root_cause_category"},
    ) }}
)

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    measure,
    problem_count,
    mean_minutes::numeric(14, 2) as mean_minutes,
    percentiles[1]::numeric(14, 2) as median_minutes,
    percentiles[2]::numeric(14, 2) as p90_minutes,
    {{ run_watermark() }} as loaded_watermark
from rolled
