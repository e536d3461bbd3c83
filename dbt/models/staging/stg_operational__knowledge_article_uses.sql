-- Articles used on incidents, renamed. One row per article and incident.
select
    id as use_id,
    article_id,
    article_version,
    incident_id,
    used_by_id,
    resolved as is_resolution,
    used_at
from {{ source('operational', 'knowledge_article_uses') }}
