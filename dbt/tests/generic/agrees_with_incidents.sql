{#- A rollup's monthly totals (slice 'all') trace back to the tickets: `count_column` equals the
    number of fct_incidents rows that meet `condition` and whose `date_column` falls in the month.
    Fails for every month where they differ. -#}
{% test agrees_with_incidents(model, count_column, date_column, condition="true") %}
with months as (
    select period_start, {{ count_column }} as rolled_count
    from {{ model }}
    where period_grain = 'month' and slice_by = 'all'
),

counted as (
    select months.period_start, count(incidents.incident_id) as incident_count
    from months
    left join {{ ref('fct_incidents') }} as incidents
        on incidents.{{ date_column }} >= months.period_start
        and incidents.{{ date_column }} < (months.period_start + interval '1 month')::date
        and ({{ condition }})
    group by months.period_start
)

select months.period_start, months.rolled_count, counted.incident_count
from months
inner join counted on counted.period_start = months.period_start
where months.rolled_count <> counted.incident_count
{% endtest %}
