"""The Requests page's tables: volume and backlog per period, and the figures per catalog item."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.queries.db import SCHEMA, read
from dashboards.queries.rollups import _dates, _window

REQUEST_VOLUME_SQL = f"""
select period_start, opened_count, delivered_count, rejected_count, cancelled_count,
    open_at_end_count
from {SCHEMA}.request_volume_per_period
where period_grain = :grain and period_start between :first and :last
order by period_start
"""


def request_volume(filters: Any) -> pd.DataFrame:
    """Request items opened, delivered, rejected and open at the end, per period of the range."""
    return _dates(read(REQUEST_VOLUME_SQL, **_window(filters)))


CATALOG_ITEMS_SQL = f"""
select
    catalog_item_name, category_name, is_active, ordered_count, delivered_count, rejected_count,
    rejection_rate, fulfilment_minutes / 60.0 as fulfilment_hours,
    fulfilment_median_minutes / 60.0 as fulfilment_median_hours,
    fulfilment_p90_minutes / 60.0 as fulfilment_p90_hours,
    fulfilment_business_minutes / 60.0 as fulfilment_business_hours,
    delivery_sla_compliance, csat_answer_count, csat_mean_rating
from {SCHEMA}.catalog_item_summary
order by ordered_count desc, catalog_item_name
"""


def catalog_items() -> pd.DataFrame:
    """Volume, fulfilment time, delivery compliance and CSAT per catalog item (all history)."""
    return read(CATALOG_ITEMS_SQL)
