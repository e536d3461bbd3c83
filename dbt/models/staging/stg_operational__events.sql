-- Every event of the log, renamed. One row per event.
select
    id as event_id,
    entity_type,
    entity_id,
    seq as event_seq,
    occurred_at,
    recorded_at,
    actor_id,
    actor_label,
    kind as event_kind,
    field as field_name,
    old_value,
    new_value,
    data as event_data,
    source_system,
    synthesized as is_synthesized
from {{ source('operational', 'events') }}
