"""The Team performance page's tables: per team and per agent, one period."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from dashboards.queries.db import read
from dashboards.queries.marts import mart_exists

TEAM_PERFORMANCE_SQL = """
with mttr as (
    select * from marts.mttr_per_period
    where period_grain = :grain and period_start = :period and slice_by = 'team'
),
fcr as (
    select * from marts.fcr_per_period
    where period_grain = :grain and period_start = :period and slice_by = 'team'
),
csat as (
    select * from marts.csat_per_period
    where period_grain = :grain and period_start = :period and slice_by = 'team'
),
reassignment as (
    select * from marts.reassignment_rate_per_period
    where period_grain = :grain and period_start = :period and slice_by = 'team'
),
sla as (
    select * from marts.sla_compliance_per_period
    where period_grain = :grain and period_start = :period and slice_by = 'team'
        and target_type = 'resolution'
),
teams as (
    select slice_value from mttr
    union select slice_value from fcr
    union select slice_value from csat
    union select slice_value from reassignment
    union select slice_value from sla
)
select
    teams.slice_value as team_name,
    mttr.resolved_count,
    mttr.mttr_minutes / 60.0 as mttr_hours,
    mttr.mttr_median_minutes / 60.0 as mttr_median_hours,
    mttr.mttr_p90_minutes / 60.0 as mttr_p90_hours,
    fcr.fcr_rate,
    csat.csat_rate,
    csat.answer_count,
    reassignment.reassignment_rate,
    reassignment.reassignment_count,
    sla.compliance_rate as resolution_compliance_rate
from teams
left join mttr on mttr.slice_value = teams.slice_value
left join fcr on fcr.slice_value = teams.slice_value
left join csat on csat.slice_value = teams.slice_value
left join reassignment on reassignment.slice_value = teams.slice_value
left join sla on sla.slice_value = teams.slice_value
where cast(:team as text) is null or teams.slice_value = :team
order by mttr.resolved_count desc nulls last, teams.slice_value
"""


def team_performance(filters: Any, period: date) -> pd.DataFrame:
    """One row per team: its figures of one period, each from the mart that defines it."""
    return read(
        TEAM_PERFORMANCE_SQL, grain=filters.grain, period=period, team=filters.value("team")
    )


AGENT_MART = "performance_per_agent"
AGENT_PERFORMANCE_SQL = """
select
    agent_id, agent_name, team_name, resolved_count,
    mttr_minutes / 60.0 as mttr_hours, fcr_rate, rated_count, csat_rate, reassignment_count
from marts.performance_per_agent
where period_grain = :grain and period_start = :period
    and (cast(:team as text) is null or team_name = :team)
order by resolved_count desc nulls last, agent_name
"""


def agent_performance(filters: Any, period: date) -> pd.DataFrame | None:
    """Per-agent figures of one period; None while the marts have no per-agent rollup."""
    if not mart_exists(AGENT_MART):
        return None
    return read(
        AGENT_PERFORMANCE_SQL, grain=filters.grain, period=period, team=filters.value("team")
    )
