{#- Rollup of one metric to every grain in var('metric_grains') and every slice in
    var('metric_slices'), in one pass (GROUPING SETS).

    `relation` is a CTE or relation with a local date column `date_column` and the slice columns
    named in `slice_columns`; `measures` is the SQL of the aggregate columns. The result has the
    contract columns period_grain, period_start, slice_by, slice_value (+ `extra_keys`), then the
    measures. slice_value is the label of the slice ('all' for the whole, '(none)' when the
    incident has no value for that dimension). -#}

{% macro default_slice_columns() -%}
    {{ return({
        "priority": "priority_label",
        "team": "team_name",
        "service": "service_name",
        "category": "category",
        "channel": "channel",
    }) }}
{%- endmacro %}

{#- The slice columns of default_slice_columns(), for a select list. -#}
{% macro slice_columns() -%}
    {{ default_slice_columns().values() | join(", ") }}
{%- endmacro %}

{% macro period_slice_rollup(relation, date_column, measures, extra_keys=[], slices=none, slice_columns=none) -%}
    {%- set grains = var("metric_grains") -%}
    {%- set slices = slices if slices is not none else var("metric_slices") -%}
    {%- set slice_columns = slice_columns if slice_columns is not none else default_slice_columns() -%}
    {%- set sliced = [] -%}
    {%- for slice in slices if slice != "all" -%}
        {%- do sliced.append((slice, slice_columns[slice])) -%}
    {%- endfor %}
    select
        case
            {%- for grain in grains %}
            when grouping(rollup_period_{{ grain }}) = 0 then '{{ grain }}'
            {%- endfor %}
        end::text as period_grain,
        coalesce({% for grain in grains %}rollup_period_{{ grain }}{{ ", " if not loop.last }}{% endfor %}, null::date)
            as period_start,
        {{ slice_by_expression(sliced) }} as slice_by,
        {{ slice_value_expression(sliced) }} as slice_value,
        {%- for key in extra_keys %}
        {{ key }},
        {%- endfor %}
        {{ measures }}
    from (
        select
            rollup_source.*
            {%- for grain in grains %},
            {{ period_start(grain, "rollup_source." ~ date_column) }} as rollup_period_{{ grain }}
            {%- endfor %}
        from {{ relation }} as rollup_source
        where rollup_source.{{ date_column }} is not null
    ) as rollup_rows
    group by grouping sets (
        {%- for grain in grains %}
        {%- set outer_loop = loop %}
        {%- for slice in slices %}
        (rollup_period_{{ grain }}
            {%- if slice != "all" %}, {{ slice_columns[slice] }}{% endif %}
            {%- for key in extra_keys %}, {{ key }}{% endfor %})
            {{- "," if not (loop.last and outer_loop.last) }}
        {%- endfor %}
        {%- endfor %}
    )
{%- endmacro %}

{#- slice_by and slice_value of a GROUPING SETS row; `sliced` is a list of (slice, column). -#}
{% macro slice_by_expression(sliced) -%}
    {%- if sliced | length == 0 -%}
        'all'::text
    {%- else -%}
        case
            {%- for slice, column in sliced %}
            when grouping({{ column }}) = 0 then '{{ slice }}'
            {%- endfor %}
            else 'all'
        end::text
    {%- endif -%}
{%- endmacro %}

{% macro slice_value_expression(sliced) -%}
    {%- if sliced | length == 0 -%}
        'all'::text
    {%- else -%}
        case
            {%- for slice, column in sliced %}
            when grouping({{ column }}) = 0 then coalesce(({{ column }})::text, '(none)')
            {%- endfor %}
            else 'all'
        end::text
    {%- endif -%}
{%- endmacro %}

{#- Like period_slice_rollup, for metrics built from sums only (counts, totals): aggregate once
    per day and slice (hashable), then add the days up into weeks and months.

    `sums` is a list of [name, per-row expression] summed as bigint; names starting with '_' are
    helpers left out of the result. `finals` is a list of [name, expression over the sums].
    It emits CTEs and the final select (rollup_output): call it after "with <relation> as (...),". -#}
{% macro additive_rollup(relation, date_column, sums, finals=[], extra_keys=[], slices=none, slice_columns=none) -%}
    {%- set slices = slices if slices is not none else var("metric_slices") -%}
    {%- set slice_columns = slice_columns if slice_columns is not none else default_slice_columns() -%}
    {%- set sliced = [] -%}
    {%- for slice in slices if slice != "all" -%}
        {%- do sliced.append((slice, slice_columns[slice])) -%}
    {%- endfor -%}
    {%- set keys = ["slice_by", "slice_value"] + extra_keys %}
    rollup_daily as (
        select
            {{ date_column }} as rollup_day,
            {{ slice_by_expression(sliced) }} as slice_by,
            {{ slice_value_expression(sliced) }} as slice_value,
            {%- for key in extra_keys %}
            {{ key }},
            {%- endfor %}
            {%- for name, expression in sums %}
            sum({{ expression }})::bigint as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ relation }}
        where {{ date_column }} is not null
        group by grouping sets (
            {%- for slice in slices %}
            ({{ date_column }}
                {%- if slice != "all" %}, {{ slice_columns[slice] }}{% endif %}
                {%- for key in extra_keys %}, {{ key }}{% endfor %})
                {{- "," if not loop.last }}
            {%- endfor %}
        )
    ),

    rollup_periods as (
        {%- for grain in var("metric_grains") %}
        select
            '{{ grain }}'::text as period_grain,
            {{ period_start(grain, "rollup_day") }} as period_start,
            {{ keys | join(", ") }},
            {%- for name, expression in sums %}
            {%- if grain == "day" %}
            {{ name }}{{ "," if not loop.last }}
            {%- else %}
            sum({{ name }})::bigint as {{ name }}{{ "," if not loop.last }}
            {%- endif %}
            {%- endfor %}
        from rollup_daily
        {%- if grain != "day" %}
        group by 2, {{ keys | join(", ") }}
        {%- endif %}
        {{ "union all" if not loop.last }}
        {%- endfor %}
    ),

    rolled as (
        select
            period_grain,
            period_start,
            {{ keys | join(", ") }},
            {%- for name, expression in sums if not name.startswith("_") %}
            {{ name }},
            {%- endfor %}
            {%- for name, expression in finals %}
            {{ expression }} as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
        from rollup_periods
    )

    {{ rollup_output(keys + additive_rollup_measures(sums, finals)) }}
{%- endmacro %}

{#- The measure columns of an additive rollup, in order. -#}
{% macro additive_rollup_measures(sums, finals) -%}
    {%- set names = [] -%}
    {%- for name, expression in sums if not name.startswith("_") -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {%- for name, expression in finals -%}
        {%- do names.append(name) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- MTTA and MTTR share their shape: for the rows of `relation` (one per incident, dated by
    `date_column`), the count, mean, median and p90 of `minutes` and of `business_minutes`,
    per period and slice, named `<metric>_minutes`, `<metric>_median_minutes`, ... and
    `count_column`. `sums` ([name, per-row expression] summed as bigint) and `finals` ([name,
    expression over the sums]) add measures of the same rows in the same pass. Emits the CTEs
    `rolled_up` and `rolled` and the final select; the model writes `with`, its incremental
    CTEs and `relation` before it. -#}
{% macro duration_rollup(relation, date_column, count_column, minutes, business_minutes, metric, sums=[], finals=[]) %}
{%- set measures -%}
            count(*) as {{ count_column }},
            avg({{ minutes }}) as mean_minutes,
            -- One sort per group gives both percentiles (continuous).
            percentile_cont(array[0.5, 0.9]) within group (order by {{ minutes }})
                as percentiles,
            count({{ business_minutes }}) as business_time_count,
            avg({{ business_minutes }}) as mean_business_minutes,
            percentile_cont(array[0.5, 0.9]) within group (order by {{ business_minutes }})
                as business_percentiles
            {%- for name, expression in sums %},
            sum({{ expression }})::bigint as {{ name }}
            {%- endfor %}
{%- endset %}
rolled_up as (
    {{ period_slice_rollup(relation, date_column, measures=measures) }}
),

rolled as (
    select
        period_grain,
        period_start,
        slice_by,
        slice_value,
        {{ count_column }},
        mean_minutes::numeric(14, 2) as {{ metric }}_minutes,
        percentiles[1]::numeric(14, 2) as {{ metric }}_median_minutes,
        percentiles[2]::numeric(14, 2) as {{ metric }}_p90_minutes,
        business_time_count,
        mean_business_minutes::numeric(14, 2) as {{ metric }}_business_minutes,
        business_percentiles[1]::numeric(14, 2) as {{ metric }}_median_business_minutes,
        business_percentiles[2]::numeric(14, 2) as {{ metric }}_p90_business_minutes
        {%- for name, expression in sums %},
        {{ name }}
        {%- endfor %}
        {%- for name, expression in finals %},
        {{ expression }} as {{ name }}
        {%- endfor %}
    from rolled_up
)

{{ rollup_output([
    "slice_by",
    "slice_value",
    count_column,
    metric ~ "_minutes",
    metric ~ "_median_minutes",
    metric ~ "_p90_minutes",
    "business_time_count",
    metric ~ "_business_minutes",
    metric ~ "_median_business_minutes",
    metric ~ "_p90_business_minutes",
] + additive_rollup_measures(sums, finals)) }}
{% endmacro %}
