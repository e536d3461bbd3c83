{{
    config(
        materialized="incremental",
        incremental_strategy="replace_periods",
        on_schema_change="fail",
        indexes=[
            {"columns": ["snapshot_date"]},
            {"columns": ["loaded_watermark"]},
        ],
        post_hook=[
            "delete from {{ this }} where period_grain = 'day' and period_start < "
            ~ "(select max(snapshot_date) from {{ this }}) - "
            ~ (var('backlog_daily_days') - 1) | string,
            "{{ analyze_if_written() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_metric_days_touched') }}

-- Backlog: incidents open at the end of each day (new, assigned, in progress or on hold), by age
-- bucket (time since the incident was first opened), and 'all' for the total. Weekly and monthly
-- rows give the backlog at the end of the period (or at the end of today for the current one).
-- One row per grain, period, slice and age bucket. For slice 'all' every day and bucket has a
-- row; for the other slices, rows with no open incident are left out. Day rows cover the last
-- var('backlog_daily_days') days.
--
-- Each open stretch is counted at every snapshot whose end it covers, at the age its incident
-- had then: a stretch of a few days meets a handful of snapshots. A row depends only on the
-- stretches open at its snapshot, so an incremental run recomputes the snapshots from the
-- earliest day touched by a changed incident (or the previous run's today).

{%- set buckets = var("backlog_age_buckets") %}
{#- The first snapshot day to recompute, as a SQL literal: all of them ('-infinity') in a full
    build; else the earliest day touched since the last run, or the last run's today. -#}
{%- set window_start = "'-infinity'" %}
{%- if is_incremental() and execute %}
    {%- set start_sql %}
        select least(
            (
                select min(day)
                from {{ ref('int_metric_days_touched') }}
                where loaded_watermark >= {{ incremental_since() }}
            ),
            (select max(snapshot_date) from {{ this }})
        )::text
    {%- endset %}
    {%- set start = run_query(start_sql).columns[0].values()[0] %}
    {%- set window_start = "null" if start is none else "'" ~ start ~ "'" %}
{%- endif %}
{%- set slice_map = default_slice_columns() %}
{%- set slices = var("metric_slices") %}
{%- set sliced = [] %}
{%- for slice in slices if slice != "all" %}{% do sliced.append((slice, slice_map[slice])) %}{% endfor %}

with

-- The last snapshot day: today, or var('as_of_date') when given (unit tests, reruns).
today as (
    select
        {%- if var("as_of_date", none) %} '{{ var("as_of_date") }}'::date
        {%- else %} {{ reporting_date("now()") }}
        {%- endif %} as today_date
),

-- The first snapshot day to compute (see window_start above), read before the model runs and
-- written in as a constant, so that PostgreSQL plans for the few stretches still open after it.
window_start as (
    select {{ window_start }}::date as start_date
),

buckets (age_bucket, bucket_order, lower_age, upper_age) as (
    values
        {%- for label, lower, upper in buckets %}
        (
            '{{ label }}',
            {{ loop.index }},
            interval '{{ lower }} hours',
            {{ "null::interval" if upper is none else "interval '" ~ upper ~ " hours'" }}
        ){{ "," if not loop.last }}
        {%- endfor %}
),

-- A stretch counts on day D when it started at or before the end of D and had not ended by
-- then: from the local date of the instant just before it started, to the day before the local
-- date of the instant just before it ended (or today, while it lasts).
intervals as (
    select
        incidents.opened_at as incident_opened_at,
        {{ reporting_date("intervals.opened_at - interval '1 microsecond'") }} as first_day,
        least(
            {{ reporting_date("intervals.closed_at - interval '1 microsecond'") }} - 1,
            today.today_date
        ) as last_day,
        incidents.priority_label,
        incidents.team_name,
        incidents.service_name,
        incidents.category,
        incidents.channel
    from {{ ref('int_incident_open_intervals_paired') }} as intervals
    inner join {{ ref('fct_incidents') }} as incidents
        on incidents.incident_id = intervals.incident_id
    cross join today
    {%- if is_incremental() %}
    where intervals.closed_at is null
        or intervals.closed_at > {{ reporting_day_start(window_start ~ "::date") }}
    {%- endif %}
),

-- Snapshot days of each grain: every day of the daily horizon, and each week's and month's
-- last day (or today), from the first incident on.
snapshots as (
    {%- for grain in var("metric_grains") %}
    select
        '{{ grain }}'::text as period_grain,
        starts.period::date as period_start,
        {%- if grain == "day" %}
        starts.period::date as snapshot_date
        {%- else %}
        least(
            (starts.period + interval '1 {{ grain }}' - interval '1 day')::date, today.today_date
        ) as snapshot_date
        {%- endif %}
    from today
    cross join window_start
    cross join lateral generate_series(
        date_trunc(
            '{{ grain }}',
            greatest(
                -- No incident yet: start after today, so there is no snapshot.
                coalesce(
                    (select min(opened_date) from {{ ref('fct_incidents') }}),
                    today.today_date + 1
                ),
                window_start.start_date
                {%- if grain == "day" %},
                today.today_date - {{ var("backlog_daily_days") - 1 }}
                {%- endif %}
            )::timestamp
        ),
        today.today_date::timestamp,
        interval '1 {{ grain }}'
    ) as starts (period)
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

-- The snapshots each stretch covers: the days of the daily horizon, and the week and month ends
-- (or today) that fall inside it.
covered as (
    {%- for grain in var("metric_grains") %}
    select
        '{{ grain }}'::text as period_grain,
        covered.period_start,
        covered.snapshot_date,
        intervals.incident_opened_at,
        intervals.priority_label,
        intervals.team_name,
        intervals.service_name,
        intervals.category,
        intervals.channel
    from intervals
    cross join today
    cross join window_start
    cross join lateral generate_series(
        date_trunc(
            '{{ grain }}',
            greatest(
                intervals.first_day,
                window_start.start_date
                {%- if grain == "day" %},
                today.today_date - {{ var("backlog_daily_days") - 1 }}
                {%- endif %}
            )::timestamp
        ),
        date_trunc('{{ grain }}', intervals.last_day::timestamp),
        interval '1 {{ grain }}'
    ) as starts (period)
    cross join lateral (
        select
            starts.period::date as period_start,
            {%- if grain == "day" %}
            starts.period::date as snapshot_date
            {%- else %}
            least(
                (starts.period + interval '1 {{ grain }}' - interval '1 day')::date,
                today.today_date
            ) as snapshot_date
            {%- endif %}
    ) as covered
    where covered.snapshot_date between intervals.first_day and intervals.last_day
        and covered.snapshot_date >= window_start.start_date
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

-- Age at a snapshot: from the incident's first opening to the end of the snapshot day.
aged as (
    select
        covered.*,
        buckets.age_bucket
    from covered
    inner join buckets
        on {{ reporting_day_start("covered.snapshot_date + 1") }} - covered.incident_opened_at
            >= buckets.lower_age
        and (
            buckets.upper_age is null
            or {{ reporting_day_start("covered.snapshot_date + 1") }} - covered.incident_opened_at
                < buckets.upper_age
        )
),

counts as (
    select
        period_grain,
        period_start,
        {{ slice_by_expression(sliced) }} as slice_by,
        {{ slice_value_expression(sliced) }} as slice_value,
        age_bucket,
        snapshot_date,
        count(*) as open_count
    from aged
    group by grouping sets (
        {%- for slice in slices %}
        (period_grain, period_start, snapshot_date, age_bucket
            {%- if slice != "all" %}, {{ slice_map[slice] }}{% endif %})
            {{- "," if not loop.last }}
        {%- endfor %}
    )
),

-- Slice 'all' has a row for every snapshot and bucket, zero included.
all_slice as (
    select
        snapshots.period_grain,
        snapshots.period_start,
        'all'::text as slice_by,
        'all'::text as slice_value,
        buckets.age_bucket,
        snapshots.snapshot_date,
        coalesce(counts.open_count, 0) as open_count
    from snapshots
    cross join buckets
    cross join window_start
    left join counts
        on counts.slice_by = 'all'
        and counts.period_grain = snapshots.period_grain
        and counts.period_start = snapshots.period_start
        and counts.age_bucket = buckets.age_bucket
    where snapshots.snapshot_date >= window_start.start_date
),

by_bucket as (
    select * from all_slice
    union all
    select * from counts where slice_by <> 'all'
),

-- The buckets partition the ages, so 'all' is their sum.
rolled as (
    select
        by_bucket.period_grain,
        by_bucket.period_start,
        by_bucket.slice_by,
        by_bucket.slice_value,
        by_bucket.age_bucket,
        buckets.bucket_order,
        by_bucket.snapshot_date,
        by_bucket.open_count::integer as open_count
    from by_bucket
    inner join buckets on buckets.age_bucket = by_bucket.age_bucket
    union all
    select
        period_grain,
        period_start,
        slice_by,
        slice_value,
        'all' as age_bucket,
        0 as bucket_order,
        snapshot_date,
        sum(open_count)::integer as open_count
    from by_bucket
    group by period_grain, period_start, slice_by, slice_value, snapshot_date
)

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    age_bucket,
    bucket_order,
    snapshot_date,
    open_count,
    {{ run_watermark() }} as loaded_watermark
from rolled

