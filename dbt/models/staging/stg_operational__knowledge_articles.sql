-- Knowledge articles and their lifecycle, renamed. One row per article.
select
    id as article_id,
    number as article_number,
    title,
    category,
    service as service_name,
    audience,
    language,
    state,
    author_id,
    current_version,
    current_version is not null and retired_at is null as is_published,
    first_published_at,
    last_published_at,
    retired_at,
    review_period_days,
    source_incident_id,
    source_problem_id,
    created_at,
    updated_at
from {{ source('operational', 'knowledge_articles') }}
