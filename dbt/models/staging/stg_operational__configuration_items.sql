-- Configuration items, renamed (attributes are not read here). One row per CI.
select
    id as ci_id,
    name as ci_name,
    class_id,
    status as ci_status,
    environment,
    criticality
from {{ source('operational', 'configuration_items') }}
