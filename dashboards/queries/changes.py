"""The Changes page's lists: the calendar ahead, and changes scheduled over a collision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from dashboards.queries.db import read
from dashboards.queries.records import with_links

CHANGE_CALENDAR_SQL = """
select
    change_id, change_number, title, change_type, state, risk_level, team_name,
    planned_start, planned_end
from marts.fct_changes
where planned_start < :until and planned_end > :since
    and state not in ('closed', 'cancelled', 'failed', 'backed_out')
    and (cast(:team as text) is null or team_name = :team)
order by planned_start, change_number
limit 300
"""


def change_calendar(filters: Any, *, days: int = 30) -> pd.DataFrame:
    """Changes planned to run between now and ``days`` ahead."""
    since = datetime.now(UTC)
    frame = read(
        CHANGE_CALENDAR_SQL,
        since=since,
        until=since + timedelta(days=days),
        team=filters.value("team"),
    )
    return with_links(frame, "fct_changes")


CONFLICT_OVERRIDES_SQL = """
select
    change_id, change_number, title, change_type, state, team_name, planned_start, planned_end,
    actual_start, conflict_override_reason, is_scheduled_over_blackout
from marts.change_approval_evidence
where conflict_override_reason is not null
    and coalesce(implemented_date, cast(planned_start as date)) between :start and :end
    and (cast(:team as text) is null or team_name = :team)
order by planned_start desc
limit 300
"""


def conflict_overrides(filters: Any) -> pd.DataFrame:
    frame = read(
        CONFLICT_OVERRIDES_SQL, start=filters.start, end=filters.end, team=filters.value("team")
    )
    return with_links(frame, "fct_changes")
