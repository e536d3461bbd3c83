"""What the marts hold, for every page: when they were built, the values the sidebar offers,
and whether an optional mart exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from dashboards.queries.db import SCHEMA, read


@dataclass(frozen=True)
class Freshness:
    built_at: datetime | None
    data_until: datetime | None


FRESHNESS_SQL = """
select
    max(built_at) as built_at,
    max(data_through) filter (where subject = 'event_log') as data_until
from marts.marts_freshness
"""


def freshness() -> Freshness:
    frame = read(FRESHNESS_SQL)
    if frame.empty:
        return Freshness(built_at=None, data_until=None)
    row = frame.iloc[0]
    return Freshness(built_at=_as_utc(row["built_at"]), data_until=_as_utc(row["data_until"]))


def _as_utc(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    moment = pd.Timestamp(value)
    if moment.tzinfo is None:
        moment = moment.tz_localize(UTC)
    return moment.tz_convert(UTC).to_pydatetime()


# The values each dimension takes, from the smallest mart that carries every incident's slices.
FILTER_VALUES_SQL = """
select slice_by, slice_value
from marts.mtta_per_period
where period_grain = 'month' and slice_by in ('team', 'priority', 'service', 'category')
union
select slice_by, slice_value
from marts.backlog_per_period
where period_grain = 'month' and slice_by in ('team', 'priority', 'service', 'category')
order by slice_by, slice_value
"""


def filter_values() -> dict[str, tuple[str, ...]]:
    frame = read(FILTER_VALUES_SQL)
    values: dict[str, tuple[str, ...]] = {}
    for dimension, group in frame.groupby("slice_by"):
        values[str(dimension)] = tuple(str(value) for value in group["slice_value"])
    return values


MART_EXISTS_SQL = "select to_regclass(:name) is not null as present"


def mart_exists(name: str) -> bool:
    return bool(read(MART_EXISTS_SQL, name=f"{SCHEMA}.{name}")["present"].iloc[0])
