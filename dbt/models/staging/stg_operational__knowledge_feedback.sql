-- Readers' verdicts on articles, renamed. One row per article and reader (the latest verdict).
select
    id as feedback_id,
    article_id,
    article_version,
    user_id,
    helpful as is_helpful,
    given_at
from {{ source('operational', 'knowledge_feedback') }}
