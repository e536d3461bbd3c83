{#- A rollup's slices partition its whole: for every period (and `extra_keys`), each slice
    dimension's values add up to the 'all' row, measure by measure. Fails for every period,
    dimension and measure where they do not. A dimension with no row in a period counts as zero
    (the backlog leaves out empty slices). The dimensions are those of var(`slices_var`). -#}
{% test slices_add_up(model, measures, extra_keys=[], slices_var="metric_slices") %}
{%- set slices = var(slices_var) -%}
{%- set keys = ["period_grain", "period_start"] + extra_keys -%}
with rollup_rows as (
    select * from {{ model }}
),

totals as (
    select {{ keys | join(", ") }}, {{ measures | join(", ") }}
    from rollup_rows
    where slice_by = 'all'
),

dimensions (slice_by) as (
    values
        {%- for slice in slices if slice != "all" %}
        ('{{ slice }}'){{ "," if not loop.last }}
        {%- endfor %}
),

sliced as (
    select
        {{ keys | join(", ") }},
        slice_by,
        {%- for measure in measures %}
        sum({{ measure }}) as {{ measure }}{{ "," if not loop.last }}
        {%- endfor %}
    from rollup_rows
    where slice_by <> 'all'
    group by {{ keys | join(", ") }}, slice_by
)

{%- for measure in measures %}
select
    {%- for key in keys %}
    totals.{{ key }},
    {%- endfor %}
    dimensions.slice_by,
    '{{ measure }}' as measure,
    totals.{{ measure }} as whole,
    coalesce(sliced.{{ measure }}, 0) as sum_of_slices
from totals
cross join dimensions
left join sliced
    on sliced.slice_by = dimensions.slice_by
    {%- for key in keys %}
    and sliced.{{ key }} = totals.{{ key }}
    {%- endfor %}
where coalesce(sliced.{{ measure }}, 0) <> coalesce(totals.{{ measure }}, 0)
{{ "union all" if not loop.last }}
{%- endfor %}
{% endtest %}
