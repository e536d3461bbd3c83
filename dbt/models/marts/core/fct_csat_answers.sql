{{
    config(
        materialized="incremental",
        incremental_strategy="replace_incidents",
        replace_marker="survey_id",
        on_schema_change="fail",
        indexes=[
            {"columns": ["incident_id"]},
            {"columns": ["answered_date"]},
            {"columns": ["loaded_watermark"]},
        ],
    )
}}

-- Every answered satisfaction survey, with its comment and the slices of its incident.
-- One row per answered survey. Incremental: the incidents rebuilt in fct_incidents since the
-- last run are replaced whole.

with incidents as (
    select *
    from {{ ref('fct_incidents') }}
    {% if is_incremental() %}
    where incident_id in ({{ changed_fct_incidents() }})
    {% endif %}
),

answers as (
    select
        surveys.survey_id,
        surveys.incident_id,
        incidents.incident_number,
        surveys.opened_at,
        surveys.answered_at,
        {{ reporting_date("surveys.answered_at") }} as answered_date,
        surveys.rating,
        surveys.is_satisfied,
        surveys.comment,
        incidents.priority_label,
        incidents.team_id,
        incidents.team_name,
        incidents.assignee_id,
        incidents.service_name,
        incidents.category,
        incidents.channel
    from {{ ref('stg_operational__csat_surveys') }} as surveys
    inner join incidents on incidents.incident_id = surveys.incident_id
    where surveys.is_answered
)

{%- set columns = [
    "survey_id", "incident_number", "opened_at", "answered_at", "answered_date", "rating",
    "is_satisfied", "comment", "priority_label", "team_id", "team_name", "assignee_id",
    "service_name", "category", "channel",
] %}

{{ replace_incidents_output("answers", columns) }}
