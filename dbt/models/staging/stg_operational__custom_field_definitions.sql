-- Custom field definitions, renamed. One row per field of a record type.
select
    id as custom_field_id,
    record_type,
    name as field_name,
    label as field_label,
    type as field_type,
    required as is_required,
    allowed_values,
    requester_visible as is_requester_visible,
    retired_at,
    retired_at is not null as is_retired,
    position as field_position
from {{ source('operational', 'custom_field_definitions') }}
