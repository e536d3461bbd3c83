{#- Calendar-time helpers. Business time is never computed in SQL: it comes from the SLA timers
    that the Python engine (operational/sla/businesstime.py) wrote. -#}

{#- The local calendar date of an instant, in var('reporting_timezone'). -#}
{% macro reporting_date(instant) -%}
    (({{ instant }}) at time zone '{{ var("reporting_timezone") }}')::date
{%- endmacro %}

{#- The instant at which a local calendar date begins, in var('reporting_timezone'). -#}
{% macro reporting_day_start(day) -%}
    ((({{ day }})::timestamp) at time zone '{{ var("reporting_timezone") }}')
{%- endmacro %}

{#- Start of the period (day, week from Monday, month) that contains a local date. -#}
{% macro period_start(grain, day) -%}
    {%- if grain == "day" -%}
        ({{ day }})::date
    {%- else -%}
        date_trunc('{{ grain }}', ({{ day }})::timestamp)::date
    {%- endif -%}
{%- endmacro %}

{#- Calendar minutes from one instant to another (null when either is null). -#}
{% macro minutes_between(started_at, ended_at) -%}
    (extract(epoch from (({{ ended_at }}) - ({{ started_at }}))) / 60.0)::numeric(14, 2)
{%- endmacro %}
