{{
    config(
        materialized="incremental",
        incremental_strategy="replace_periods",
        on_schema_change="fail",
        indexes=[
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- depends_on: {{ ref('int_metric_days_touched') }}
-- depends_on: {{ ref('fct_incidents') }}

-- CSAT: among the answers given in the period, the share rated 4 or 5 and the mean rating; and
-- among the surveys sent in the period, the share answered (response rate).
-- One row per grain, period and slice.

with
{% if is_incremental() %}{{ affected_periods_ctes() }}{% endif %}
surveys as (
    select
        {{ reporting_date("surveys.opened_at") }} as opened_date,
        {{ reporting_date("surveys.answered_at") }} as answered_date,
        surveys.is_answered,
        surveys.is_satisfied,
        surveys.rating,
        {%- for column in default_slice_columns().values() %}
        incidents.{{ column }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_operational__csat_surveys') }} as surveys
    inner join {{ ref('fct_incidents') }} as incidents
        on incidents.incident_id = surveys.incident_id
),

survey_activity as (
    select
        'sent' as activity, opened_date as activity_date, is_answered, is_satisfied, rating,
        {{ slice_columns() }}
    from surveys
    where true{{ in_affected_periods('opened_date') }}
    union all
    select
        'answered' as activity, answered_date as activity_date, is_answered, is_satisfied, rating,
        {{ slice_columns() }}
    from surveys
    where is_answered{{ in_affected_periods('answered_date') }}
),

{{ additive_rollup(
    "survey_activity",
    "activity_date",
    sums=[
        ["surveys_sent_count", "case when activity = 'sent' then 1 else 0 end"],
        ["surveys_sent_answered_count", "case when activity = 'sent' and is_answered then 1 else 0 end"],
        ["answer_count", "case when activity = 'answered' then 1 else 0 end"],
        ["satisfied_count", "case when activity = 'answered' and is_satisfied then 1 else 0 end"],
        ["_rating_total", "case when activity = 'answered' then rating else 0 end"],
    ],
    finals=[
        ["response_rate", "(surveys_sent_answered_count::numeric / nullif(surveys_sent_count, 0))::numeric(6, 4)"],
        ["csat_rate", "(satisfied_count::numeric / nullif(answer_count, 0))::numeric(6, 4)"],
        ["mean_rating", "(_rating_total::numeric / nullif(answer_count, 0))::numeric(14, 2)"],
    ],
) }}
