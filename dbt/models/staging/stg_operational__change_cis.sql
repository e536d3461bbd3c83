-- Affected configuration items of changes. One row per change and CI.
select
    change_id,
    ci_id,
    change_id::text || ':' || ci_id::text as change_ci_key
from {{ source('operational', 'change_cis') }}
