"""The SLA page's lists: running timers about to breach, and the breach register."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from dashboards.queries.db import read
from dashboards.queries.records import filter_params, records_csv, with_links

# Running timers of the incidents open at the last build (only an open incident's timer runs);
# the open ones come from the narrow open-interval view, not a scan of fct_incidents.
UPCOMING_BREACHES_SQL = """
select
    incidents.incident_id, incidents.incident_number, incidents.title, timers.target_type,
    incidents.priority_label, incidents.team_name, incidents.service_name, timers.due_at,
    timers.timer_state
from marts.fct_incidents as incidents
cross join lateral (
    values
        ('response', incidents.response_due_at, incidents.response_sla_state),
        ('resolution', incidents.resolution_due_at, incidents.resolution_sla_state)
) as timers (target_type, due_at, timer_state)
where incidents.incident_id in (
        select incident_id from marts.fct_incident_open_intervals where closed_at is null
    )
    and timers.timer_state = 'running'
    and timers.due_at < :until
    and (cast(:team as text) is null or incidents.team_name = :team)
    and (cast(:priority as text) is null or incidents.priority_label = :priority)
    and (cast(:service as text) is null or incidents.service_name = :service)
    and (cast(:category as text) is null or incidents.category = :category)
order by timers.due_at
limit 200
"""


def upcoming_breaches(filters: Any, *, hours: int) -> pd.DataFrame:
    until = datetime.now(UTC) + timedelta(hours=hours)
    frame = read(
        UPCOMING_BREACHES_SQL,
        until=until,
        team=filters.value("team"),
        priority=filters.value("priority"),
        service=filters.value("service"),
        category=filters.value("category"),
    )
    return with_links(frame, "fct_incidents")


BREACH_REGISTER_SQL = """
select
    incident_id, incident_number, title, target_type, policy_name, priority_label, team_name,
    service_name, category, due_at, breached_at, completed_at, timer_state,
    business_minutes_over_target / 60.0 as business_hours_over_target
from marts.sla_breach_register
where breached_date between :start and :end
    and (cast(:team as text) is null or team_name = :team)
    and (cast(:priority as text) is null or priority_label = :priority)
    and (cast(:service as text) is null or service_name = :service)
    and (cast(:category as text) is null or category = :category)
order by breached_at desc
limit :limit
"""


BREACH_REGISTER_COUNT_SQL = """
select count(*) as n
from marts.sla_breach_register
where breached_date between :start and :end
    and (cast(:team as text) is null or team_name = :team)
    and (cast(:priority as text) is null or priority_label = :priority)
    and (cast(:service as text) is null or service_name = :service)
    and (cast(:category as text) is null or category = :category)
"""


def breach_register(filters: Any, *, limit: int = 500) -> pd.DataFrame:
    frame = read(BREACH_REGISTER_SQL, **filter_params(filters), limit=limit)
    return with_links(frame, "fct_incidents")


def breach_register_count(filters: Any) -> int:
    return int(read(BREACH_REGISTER_COUNT_SQL, **filter_params(filters))["n"].iloc[0])


def breach_register_csv(filters: Any) -> bytes:
    """The whole register for the filters, read when the button is pressed (not cached)."""
    sql = BREACH_REGISTER_SQL.replace("limit :limit", "")
    return records_csv(sql, filter_params(filters), "fct_incidents")
