-- Catalog items as they stand now, with their category's name. One row per item.
select
    items.id as catalog_item_id,
    items.name as catalog_item_name,
    items.category_id,
    categories.name as category_name,
    items.price,
    items.fulfilment_team_id,
    items.delivery_minutes,
    items.is_active,
    items.retired_at,
    items.version as current_version
from {{ source('operational', 'catalog_items') }} as items
left join {{ source('operational', 'catalog_categories') }} as categories
    on categories.id = items.category_id
