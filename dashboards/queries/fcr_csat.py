"""The FCR and CSAT page's list: survey comments."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.queries.db import read
from dashboards.queries.marts import mart_exists
from dashboards.queries.records import filter_params, with_links

CSAT_ANSWERS_MART = "fct_csat_answers"
CSAT_COMMENTS_SQL = """
select
    incident_id, incident_number, answered_at, rating, comment, team_name, priority_label,
    service_name, category, channel
from marts.fct_csat_answers
where comment is not null and comment <> ''
    and answered_date between :start and :end
    and (cast(:team as text) is null or team_name = :team)
    and (cast(:priority as text) is null or priority_label = :priority)
    and (cast(:service as text) is null or service_name = :service)
    and (cast(:category as text) is null or category = :category)
order by answered_at desc
limit :limit
"""


def csat_comments(filters: Any, *, limit: int) -> pd.DataFrame | None:
    """Survey comments, newest first; None while the marts hold no survey answers."""
    if not mart_exists(CSAT_ANSWERS_MART):
        return None
    frame = read(CSAT_COMMENTS_SQL, **filter_params(filters), limit=limit)
    return with_links(frame, "fct_incidents")
