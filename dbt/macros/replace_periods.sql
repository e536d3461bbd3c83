{#- Incremental rollups by period. A rollup row depends on the incidents whose metric date falls
    in its period; an incident's metric dates (acknowledged, resolved, first resolved, survey and
    SLA dates, before and after any change) are always dates of its own events, surveys or
    timers. So an incremental run recomputes whole every period (of each grain) that contains a
    day touched since the rollup last ran (int_metric_days_touched: the dates of the incidents
    rebuilt in fct_incidents), and nothing else. -#}

{#- Strategy: delete every period the new rows name, then insert the new rows. A period whose
    rows all disappeared is named by a placeholder row (null config('replace_marker'), by
    default slice_by), which is not inserted. -#}
{% macro get_incremental_replace_periods_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ target }} as target
    using (select distinct period_grain, period_start from {{ source }}) as replaced
    where target.period_grain = replaced.period_grain
        and target.period_start = replaced.period_start;
    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
    where {{ config.get("replace_marker", "slice_by") }} is not null;
{% endmacro %}

{#- CTEs of the periods to recompute: affected_days (the days touched since this rollup's
    watermark, int_metric_days_touched), affected_periods and affected_span (every day of every
    affected period). Incremental runs only. Models using it declare
    `-- depends_on: {{ ref('int_metric_days_touched') }}`. -#}
{% macro affected_periods_ctes() %}
    affected_days as (
        select day
        from {{ ref('int_metric_days_touched') }}
        where loaded_watermark >= {{ incremental_since() }}
    ),

    affected_periods as (
        {%- for grain in var("metric_grains") %}
        select distinct
            '{{ grain }}'::text as period_grain,
            {{ period_start(grain, "day") }} as period_start,
            {%- if grain == "day" %}
            day as period_end
            {%- else %}
            ({{ period_start(grain, "day") }} + interval '1 {{ grain }}' - interval '1 day')::date
                as period_end
            {%- endif %}
        from affected_days
        where day is not null
        {{ "union all" if not loop.last }}
        {%- endfor %}
    ),

    affected_span as (
        select distinct span.day::date as day
        from affected_periods
        cross join lateral generate_series(
            affected_periods.period_start::timestamp,
            affected_periods.period_end::timestamp,
            interval '1 day'
        ) as span (day)
    ),
{% endmacro %}

{#- " and <date_column> in an affected period", in incremental runs; nothing otherwise. -#}
{% macro in_affected_periods(date_column) -%}
    {%- if is_incremental() %} and {{ date_column }} in (select day from affected_span){% endif -%}
{%- endmacro %}

{#- The final select of a rollup from the CTE `rolled`: its period keys and `columns`, and the
    watermark. Incremental runs keep only the affected periods, with a placeholder row for each. -#}
{% macro rollup_output(columns) %}
    {%- if config.get("materialized") == "incremental" and is_incremental() %}
    select
        affected_periods.period_grain,
        affected_periods.period_start,
        {%- for column in columns %}
        rolled.{{ column }},
        {%- endfor %}
        {{ run_watermark() }} as loaded_watermark
    from affected_periods
    left join rolled
        on rolled.period_grain = affected_periods.period_grain
        and rolled.period_start = affected_periods.period_start
    {%- else %}
    select
        period_grain,
        period_start,
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        {{ run_watermark() }} as loaded_watermark
    from rolled
    {%- endif %}
{% endmacro %}

{#- Strategy for per-incident marts whose rows depend on mutable values (a breach can be undone
    by a retarget): delete every incident the new rows name, then insert the new rows. An incident
    left with no row is named by a placeholder row whose config('replace_marker') column is null,
    which is not inserted. -#}
{% macro get_incremental_replace_incidents_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ target }}
    where incident_id in (select incident_id from {{ source }});
    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ source }}
    where {{ config.get("replace_marker") }} is not null;
{% endmacro %}

{#- The final select of a replace_incidents mart from the CTE `relation` (rows with an
    incident_id) and `columns`, and the watermark. Incremental runs select from the CTE
    `incidents` (the incidents rebuilt since the last run), so that an incident left with no
    row in `relation` gets a placeholder row (null in the replace_marker column). -#}
{% macro replace_incidents_output(relation, columns) %}
select
    {%- for column in columns %}
    {{ relation }}.{{ column }},
    {%- endfor %}
    {%- if is_incremental() %}
    incidents.incident_id,
    {%- else %}
    {{ relation }}.incident_id,
    {%- endif %}
    {{ run_watermark() }} as loaded_watermark
{%- if is_incremental() %}
from incidents
left join {{ relation }} on {{ relation }}.incident_id = incidents.incident_id
{%- else %}
from {{ relation }}
{%- endif %}
{% endmacro %}

{#- Incidents rebuilt in fct_incidents since this model last ran (incremental runs only). -#}
{% macro changed_fct_incidents() -%}
    select incident_id
    from {{ ref('fct_incidents') }}
    where loaded_watermark >= {{ incremental_since() }}
{%- endmacro %}
