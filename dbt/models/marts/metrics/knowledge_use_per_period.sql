-- Knowledge at work, by the period incidents were (last) resolved: how many were resolved with
-- a knowledge article (an agent resolved them by linking it), and the calendar minutes from
-- opening to resolution with and without one (mean and median), per grain, period and slice.

with resolved as (
    select
        incidents.resolved_date,
        incidents.minutes_to_resolve,
        incidents.team_name,
        incidents.service_name,
        incidents.category,
        exists (
            select 1
            from {{ ref('stg_operational__knowledge_article_uses') }} as uses
            where uses.incident_id = incidents.incident_id and uses.is_resolution
        ) as with_article
    from {{ ref('fct_incidents') }} as incidents
    where incidents.is_resolved and incidents.minutes_to_resolve is not null
),

rolled as (
    {{ period_slice_rollup(
        "resolved",
        "resolved_date",
        measures="count(*) as resolved_count,
            count(*) filter (where with_article) as with_article_count,
            avg(minutes_to_resolve) filter (where with_article) as with_article_mean,
            avg(minutes_to_resolve) filter (where not with_article) as without_article_mean,
            percentile_cont(0.5) within group (order by minutes_to_resolve)
                filter (where with_article) as with_article_median,
            percentile_cont(0.5) within group (order by minutes_to_resolve)
                filter (where not with_article) as without_article_median",
        slices=["all", "team", "service", "category"],
        slice_columns={"team": "team_name", "service": "service_name", "category": "category"},
    ) }}
)

select
    period_grain,
    period_start,
    slice_by,
    slice_value,
    resolved_count,
    with_article_count,
    (with_article_count::numeric / nullif(resolved_count, 0))::numeric(6, 4)
        as with_article_share,
    with_article_mean::numeric(14, 2) as with_article_mean_minutes,
    with_article_median::numeric(14, 2) as with_article_median_minutes,
    without_article_mean::numeric(14, 2) as without_article_mean_minutes,
    without_article_median::numeric(14, 2) as without_article_median_minutes,
    {{ run_watermark() }} as loaded_watermark
from rolled
