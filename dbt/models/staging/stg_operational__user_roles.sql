-- Roles held by users. One row per user and role.
select
    user_id,
    role,
    user_id::text || ':' || role as user_role_key,
    role in (
        {%- for role in var("privileged_roles") %}'{{ role }}'{{ ", " if not loop.last }}{% endfor -%}
    ) as is_privileged
from {{ source('operational', 'user_roles') }}
