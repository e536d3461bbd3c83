-- One row per knowledge article with its use and its readers' verdicts: how often it helped
-- (and resolved) incidents, how many found it helpful, whether it was never used, and whether
-- it is out of date (published, and its last publication older than its review period as of
-- the build: today, or var('as_of_date') when given).

with uses as (
    select
        article_id,
        count(*) as use_count,
        count(*) filter (where is_resolution) as resolution_count,
        min(used_at) as first_used_at,
        max(used_at) as last_used_at
    from {{ ref('stg_operational__knowledge_article_uses') }}
    group by article_id
),

feedback as (
    select
        article_id,
        count(*) filter (where is_helpful) as helpful_count,
        count(*) filter (where not is_helpful) as not_helpful_count
    from {{ ref('stg_operational__knowledge_feedback') }}
    group by article_id
),

as_of as (
    select
        {%- if var("as_of_date", none) %}
        {{ reporting_day_start("'" ~ var("as_of_date") ~ "'::date + 1") }}
        {%- else %} now()
        {%- endif %} as as_of_at
)

select
    articles.article_id,
    articles.article_number,
    articles.title,
    articles.category,
    articles.service_name,
    articles.audience,
    articles.language,
    articles.state,
    articles.is_published,
    articles.current_version,
    articles.author_id,
    articles.first_published_at,
    {{ reporting_date("articles.first_published_at") }} as first_published_date,
    articles.last_published_at,
    articles.retired_at,
    articles.review_period_days,
    articles.last_published_at + make_interval(days => articles.review_period_days)
        as review_due_at,
    coalesce(
        articles.is_published
        and articles.last_published_at + make_interval(days => articles.review_period_days)
        < as_of.as_of_at,
        false
    ) as is_out_of_date,
    coalesce(uses.use_count, 0) as use_count,
    coalesce(uses.resolution_count, 0) as resolution_count,
    articles.is_published and uses.use_count is null as is_never_used,
    uses.first_used_at,
    uses.last_used_at,
    coalesce(feedback.helpful_count, 0) as helpful_count,
    coalesce(feedback.not_helpful_count, 0) as not_helpful_count,
    (feedback.helpful_count::numeric
        / nullif(feedback.helpful_count + feedback.not_helpful_count, 0))::numeric(6, 4)
        as helpful_ratio,
    articles.source_incident_id,
    articles.source_problem_id
from {{ ref('stg_operational__knowledge_articles') }} as articles
cross join as_of
left join uses on uses.article_id = articles.article_id
left join feedback on feedback.article_id = articles.article_id
