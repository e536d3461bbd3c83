-- Incidents sliced by the value of a choice custom field: opened and resolved per period, with
-- the resolution time and resolution SLA compliance of those resolved. One row per period grain,
-- period start, field and value. An incident without a value for the field is in no row of it.
{%- set grains = var("metric_grains") %}
with

chosen as (
    select incident_id, field_name, field_label, value_text as choice_value
    from {{ ref('fct_incident_custom_fields') }}
    where field_type = 'choice'
),

incidents as (
    select
        chosen.field_name,
        chosen.field_label,
        chosen.choice_value,
        fct_incidents.opened_date,
        fct_incidents.resolved_date,
        fct_incidents.minutes_to_resolve,
        fct_incidents.resolution_sla_met
    from chosen
    inner join {{ ref('fct_incidents') }} as fct_incidents
        on fct_incidents.incident_id = chosen.incident_id
),

{%- for grain in grains %}

opened_{{ grain }} as (
    select
        '{{ grain }}'::text as period_grain,
        {{ period_start(grain, "opened_date") }} as period_start,
        field_name,
        field_label,
        choice_value,
        count(*)::bigint as opened_count
    from incidents
    group by 2, 3, 4, 5
),

resolved_{{ grain }} as (
    select
        '{{ grain }}'::text as period_grain,
        {{ period_start(grain, "resolved_date") }} as period_start,
        field_name,
        field_label,
        choice_value,
        count(*)::bigint as resolved_count,
        avg(minutes_to_resolve)::numeric(14, 2) as mttr_mean_minutes,
        count(*) filter (where resolution_sla_met)::bigint as resolution_sla_met_count,
        count(resolution_sla_met)::bigint as resolution_sla_measured_count
    from incidents
    where resolved_date is not null
    group by 2, 3, 4, 5
),
{%- endfor %}

periods as (
    {%- for grain in grains %}
    select
        coalesce(opened.period_grain, resolved.period_grain) as period_grain,
        coalesce(opened.period_start, resolved.period_start) as period_start,
        coalesce(opened.field_name, resolved.field_name) as field_name,
        coalesce(opened.field_label, resolved.field_label) as field_label,
        coalesce(opened.choice_value, resolved.choice_value) as choice_value,
        coalesce(opened.opened_count, 0) as opened_count,
        coalesce(resolved.resolved_count, 0) as resolved_count,
        resolved.mttr_mean_minutes,
        coalesce(resolved.resolution_sla_met_count, 0) as resolution_sla_met_count,
        coalesce(resolved.resolution_sla_measured_count, 0) as resolution_sla_measured_count
    from opened_{{ grain }} as opened
    full outer join resolved_{{ grain }} as resolved
        on resolved.period_start = opened.period_start
        and resolved.field_name = opened.field_name
        and resolved.choice_value = opened.choice_value
    {{ "union all" if not loop.last }}
    {%- endfor %}
)

select
    period_grain,
    period_start,
    field_name,
    field_label,
    choice_value,
    opened_count,
    resolved_count,
    mttr_mean_minutes,
    resolution_sla_met_count,
    resolution_sla_measured_count,
    case
        when resolution_sla_measured_count > 0
            then round(100.0 * resolution_sla_met_count / resolution_sla_measured_count, 2)
    end::numeric(5, 2) as resolution_sla_compliance_pct
from periods
