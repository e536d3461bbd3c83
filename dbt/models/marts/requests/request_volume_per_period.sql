-- Request items opened, delivered, rejected and cancelled in each period, and open (the backlog)
-- at the end of it. One row per grain and period, from the first order to the last event.

with items as (
    select opened_at, opened_date, closed_at, closed_date, is_delivered, is_rejected, is_cancelled
    from {{ ref('fct_request_items') }}
),

bounds as (
    select min(opened_date) as first_day, greatest(max(opened_date), max(closed_date)) as last_day
    from items
),

periods as (
    {%- for grain in var("metric_grains") %}
    select distinct
        '{{ grain }}'::text as period_grain,
        {{ period_start(grain, "day") }} as period_start
    from bounds, generate_series(bounds.first_day, bounds.last_day, interval '1 day') as day
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

spans as (
    select
        period_grain,
        period_start,
        case period_grain
            when 'day' then period_start + 1
            when 'week' then period_start + 7
            else (period_start + interval '1 month')::date
        end as period_end
    from periods
)

select
    spans.period_grain,
    spans.period_start,
    count(*) filter (
        where items.opened_date >= spans.period_start and items.opened_date < spans.period_end
    ) as opened_count,
    count(*) filter (
        where items.is_delivered
            and items.closed_date >= spans.period_start and items.closed_date < spans.period_end
    ) as delivered_count,
    count(*) filter (
        where items.is_rejected
            and items.closed_date >= spans.period_start and items.closed_date < spans.period_end
    ) as rejected_count,
    count(*) filter (
        where items.is_cancelled
            and items.closed_date >= spans.period_start and items.closed_date < spans.period_end
    ) as cancelled_count,
    count(*) filter (
        where items.opened_date < spans.period_end
            and (items.closed_date is null or items.closed_date >= spans.period_end)
    ) as open_at_end_count
from spans
cross join items
group by spans.period_grain, spans.period_start
