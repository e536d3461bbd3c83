"""The records behind a number: the population a mart counts, in its date window and slice, as
a count, the newest rows and a CSV of all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from dashboards.queries.db import SCHEMA, read
from dashboards.queries.records import records_csv, with_links
from dashboards.queries.reporting_periods import next_period, period_start


@dataclass(frozen=True)
class Population:
    """Records a mart counts, the date column that places them in a period, and their table."""

    label: str
    predicate: str
    date_column: str | None  # None: a snapshot (no date condition)
    order_by: str
    table: str = "fct_incidents"


# dbt's var reporting_timezone, in which days end (the marts do not carry it; change both).
REPORTING_TIMEZONE = UTC

POPULATIONS = {
    "opened": Population("opened", "true", "opened_date", "opened_at desc"),
    "acknowledged": Population(
        "acknowledged", "acknowledged_at is not null", "acknowledged_date", "acknowledged_at desc"
    ),
    "resolved": Population("resolved", "is_resolved", "resolved_date", "resolved_at desc"),
    "resolved_fcr": Population(
        "resolved at first contact",
        "is_resolved and is_first_contact_resolution",
        "resolved_date",
        "resolved_at desc",
    ),
    "resolved_not_fcr": Population(
        "resolved, not at first contact",
        "is_resolved and not is_first_contact_resolution",
        "resolved_date",
        "resolved_at desc",
    ),
    "reassigned": Population(
        "resolved after a reassignment",
        "is_resolved and is_reassigned",
        "resolved_date",
        "resolved_at desc",
    ),
    "reopened": Population(
        "first resolved, then reopened",
        "first_resolved_at is not null and is_reopened",
        "first_resolved_date",
        "first_resolved_at desc",
    ),
    "csat_answered": Population(
        "answered",
        "true",
        "answered_date",
        "answered_at desc",
        table="fct_csat_answers",
    ),
    "csat_unsatisfied": Population(
        "answered with a rating of 1 to 3",
        "not is_satisfied",
        "answered_date",
        "answered_at desc",
        table="fct_csat_answers",
    ),
    "response_completed": Population(
        "with a response timer completed",
        "response_sla_met is not null",
        "response_completed_date",
        "response_completed_at desc",
    ),
    "response_breached": Population(
        "whose response timer breached",
        "response_sla_met = false",
        "response_completed_date",
        "response_completed_at desc",
    ),
    "resolution_completed": Population(
        "with a resolution timer completed",
        "resolution_sla_met is not null",
        "resolution_completed_date",
        "resolution_completed_at desc",
    ),
    "resolution_breached": Population(
        "whose resolution timer breached",
        "resolution_sla_met = false",
        "resolution_completed_date",
        "resolution_completed_at desc",
    ),
    "open_now": Population("open at the last build", "is_open", None, "opened_at asc"),
    # Open at the end of a day, as backlog_per_period counts them (see Drill.as_of).
    "open_at": Population(
        "open",
        "opened_at < :day_end and (closed_at is null or closed_at >= :day_end)",
        None,
        "incident_opened_at asc",
        table="fct_incident_open_intervals",
    ),
    "changes_completed": Population(
        "completed", "is_completed", "closed_date", "closed_at desc", table="fct_changes"
    ),
    "changes_unsuccessful": Population(
        "completed without success",
        "is_completed and not is_successful",
        "closed_date",
        "closed_at desc",
        table="fct_changes",
    ),
    "changes_emergency": Population(
        "completed as emergency changes",
        "is_completed and is_emergency",
        "closed_date",
        "closed_at desc",
        table="fct_changes",
    ),
    "requests_opened": Population(
        "ordered", "true", "opened_date", "opened_at desc", table="fct_request_items"
    ),
    "requests_delivered": Population(
        "delivered",
        "is_delivered",
        "delivered_date",
        "delivered_at desc",
        table="fct_request_items",
    ),
    "requests_late": Population(
        "delivered late",
        "is_delivered and not delivery_sla_met",
        "delivered_date",
        "delivered_at desc",
        table="fct_request_items",
    ),
    "requests_rejected": Population(
        "rejected", "is_rejected", "closed_date", "closed_at desc", table="fct_request_items"
    ),
}

# Column of each dimension in each table (the rollups' slice columns).
_INCIDENT_SLICES = {
    "team": "team_name",
    "priority": "priority_label",
    "service": "service_name",
    "category": "category",
    "channel": "channel",
}
DIMENSION_COLUMNS = {
    # agent: performance_per_agent's agent, the incident's assignee.
    "fct_incidents": {**_INCIDENT_SLICES, "agent": "assignee_id"},
    "fct_csat_answers": _INCIDENT_SLICES,
    "fct_incident_open_intervals": _INCIDENT_SLICES,
    "fct_changes": {"team": "team_name", "change_type": "change_type", "risk_level": "risk_level"},
    "fct_request_items": {"team": "team_name", "catalog_item": "catalog_item_name"},
}
NONE_VALUE = "(none)"

SELECTS = {
    "fct_incidents": """
        incident_id as record_id,
        incident_number as record_number,
        title,
        lifecycle_status,
        priority_label,
        team_name,
        service_name,
        category,
        channel,
        opened_at,
        acknowledged_at,
        resolved_at,
        minutes_to_acknowledge / 60.0 as hours_to_acknowledge,
        minutes_to_resolve / 60.0 as hours_to_resolve,
        reassignment_count,
        reopen_count,
        is_first_contact_resolution,
        response_sla_met,
        resolution_sla_met,
        csat_rating""",
    "fct_csat_answers": """
        incident_id as record_id,
        incident_number as record_number,
        answered_at,
        rating,
        comment,
        priority_label,
        team_name,
        service_name,
        category,
        channel""",
    "fct_incident_open_intervals": """
        incident_id as record_id,
        incident_number as record_number,
        incident_opened_at,
        opened_at as open_since,
        closed_at as open_until,
        lifecycle_status,
        priority_label,
        team_name,
        service_name,
        category,
        channel""",
    "fct_changes": """
        change_id as record_id,
        change_number as record_number,
        title,
        change_type,
        state,
        risk_level,
        team_name,
        planned_start,
        planned_end,
        actual_start,
        actual_end,
        closed_at,
        is_successful,
        caused_incident_count""",
    "fct_request_items": """
        request_item_id as record_id,
        request_item_number as record_number,
        request_number,
        catalog_item_name,
        item_state,
        team_name,
        opened_at,
        approved_at,
        delivered_at,
        minutes_to_deliver / 60.0 as hours_to_deliver,
        business_minutes_to_deliver / 60.0 as business_hours_to_deliver,
        approval_wait_minutes / 60.0 as approval_wait_hours,
        delivery_sla_met,
        rejection_reason""",
}


@dataclass(frozen=True)
class Drill:
    """The records behind one number: a population, a date window, and equality filters."""

    population: str
    start: date | None  # inclusive; None: no date condition
    end: date | None  # exclusive
    where: tuple[tuple[str, Any], ...] = field(default=())  # (dimension, value)
    description: str = ""
    as_of: date | None = None  # the day whose end the backlog is taken at ("open_at")

    @property
    def table(self) -> str:
        return POPULATIONS[self.population].table

    @property
    def noun(self) -> str:
        return {
            "fct_changes": "changes",
            "fct_csat_answers": "survey answers",
            "fct_request_items": "request items",
        }.get(self.table, "incidents")

    @property
    def title(self) -> str:
        parts = [f"{self.noun.capitalize()} {POPULATIONS[self.population].label}"]
        if self.as_of is not None:
            parts[0] += f" at the end of {self.as_of:%d %b %Y}"
        elif self.start is not None and self.end is not None:
            last = self.end - timedelta(days=1)
            parts.append(
                f"on {self.start:%d %b %Y}"
                if last == self.start
                else f"{self.start:%d %b %Y} to {last:%d %b %Y}"
            )
        # An agent is named in the description; their id means nothing to a reader.
        parts += [f"{name} {value}" for name, value in self.where if name != "agent"]
        title = ", ".join(parts)
        return f"{title} ({self.description})" if self.description else title

    @property
    def file_stem(self) -> str:
        parts = [self.noun, self.population]
        if (self.as_of or self.start) is not None:
            parts.append((self.as_of or self.start).isoformat())
        parts += [str(value) for _, value in self.where]
        return "_".join(
            "".join(char if char.isalnum() or char in "-." else "-" for char in part)
            for part in parts
        )


def drill(
    population: str,
    filters: Any,
    *,
    period: date | None = None,
    extra: dict[str, Any] | None = None,
    description: str = "",
    as_of: date | None = None,
) -> Drill:
    """Records behind a number: a period (or the whole range) and the sidebar filters that apply
    to the population's table, plus ``extra`` (e.g. the clicked slice). ``as_of``: the day at
    whose end a backlog is taken."""
    spec = POPULATIONS[population]
    if period is None:
        start = period_start(filters.start, filters.grain)
        end = next_period(period_start(filters.end, filters.grain), filters.grain)
    else:
        start, end = period, next_period(period, filters.grain)
    if spec.date_column is None:
        start = end = None
    columns = DIMENSION_COLUMNS[spec.table]
    where = {key: value for key, value in filters.chosen.items() if key in columns}
    where.update({key: value for key, value in (extra or {}).items() if key in columns})
    return Drill(
        population=population,
        start=start,
        end=end,
        where=tuple(sorted(where.items())),
        description=description,
        as_of=as_of,
    )


def _drill_where(spec: Drill) -> tuple[str, dict[str, Any]]:
    population = POPULATIONS[spec.population]
    conditions = [population.predicate]
    params: dict[str, Any] = {}
    if population.date_column and spec.start is not None and spec.end is not None:
        column = population.date_column
        conditions.append(f"{column} >= :start and {column} < :end")
        params.update(start=spec.start, end=spec.end)
    if ":day_end" in population.predicate:
        day = spec.as_of or datetime.now(REPORTING_TIMEZONE).date()
        params["day_end"] = datetime.combine(
            day + timedelta(days=1), datetime.min.time(), REPORTING_TIMEZONE
        )
    for index, (dimension, value) in enumerate(spec.where):
        column = DIMENSION_COLUMNS[population.table][dimension]
        if value == NONE_VALUE:
            conditions.append(f"{column} is null")
        else:
            conditions.append(f"{column} = :value_{index}")
            params[f"value_{index}"] = value
    return " and ".join(f"({condition})" for condition in conditions), params


def drill_count(spec: Drill) -> int:
    where, params = _drill_where(spec)
    frame = read(f"select count(*) as n from {SCHEMA}.{spec.table} where {where}", **params)
    return int(frame["n"].iloc[0])


def _drill_sql(spec: Drill) -> tuple[str, dict[str, Any]]:
    where, params = _drill_where(spec)
    order = POPULATIONS[spec.population].order_by
    sql = (
        f"select {SELECTS[spec.table]} from {SCHEMA}.{spec.table} where {where} "
        f"order by {order}, record_id"
    )
    return sql, params


def drill_rows(spec: Drill, *, limit: int) -> pd.DataFrame:
    sql, params = _drill_sql(spec)
    return with_links(read(sql + " limit :limit", limit=limit, **params), spec.table)


def drill_csv(spec: Drill) -> bytes:
    """Every row behind the number as CSV, read when the button is pressed (not cached)."""
    sql, params = _drill_sql(spec)
    return records_csv(sql, params, spec.table)
