{#- Records sliced by the value of a choice custom field, per period of every grain in
    var('metric_grains'): how many were opened (by opened_date) and how many ended (by
    ended_date), with the mean of `minutes` over those that ended.

    `records` is a CTE with field_name, field_label, choice_value, opened_date, ended_date and
    minutes (one row per record and choice field). The result has period_grain, period_start,
    field_name, field_label, choice_value, opened_count, then `ended_count` and `mean_minutes`
    under the names given. -#}
{% macro choice_value_rollup(records, ended_count, mean_minutes) -%}
    {%- set grains = var("metric_grains") %}
    {%- for grain in grains %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select
        '{{ grain }}'::text as period_grain,
        coalesce(opened.period_start, ended.period_start) as period_start,
        coalesce(opened.field_name, ended.field_name) as field_name,
        coalesce(opened.field_label, ended.field_label) as field_label,
        coalesce(opened.choice_value, ended.choice_value) as choice_value,
        coalesce(opened.opened_count, 0) as opened_count,
        coalesce(ended.ended_count, 0) as {{ ended_count }},
        ended.mean_minutes as {{ mean_minutes }}
    from (
        select
            {{ period_start(grain, "opened_date") }} as period_start,
            field_name,
            field_label,
            choice_value,
            count(*)::bigint as opened_count
        from {{ records }}
        group by 1, 2, 3, 4
    ) as opened
    full outer join (
        select
            {{ period_start(grain, "ended_date") }} as period_start,
            field_name,
            field_label,
            choice_value,
            count(*)::bigint as ended_count,
            avg(minutes)::numeric(14, 2) as mean_minutes
        from {{ records }}
        where ended_date is not null
        group by 1, 2, 3, 4
    ) as ended
        on ended.period_start = opened.period_start
        and ended.field_name = opened.field_name
        and ended.choice_value = opened.choice_value
    {%- endfor %}
{%- endmacro %}
