"""Every SQL statement of the dashboards. They read schema ``marts`` only, as the read-only
analyst role, through ``st.connection(type="sql")`` with a TTL cache.

Nothing here defines a metric: each figure is a column of a dbt mart (definitions in
``dbt/README.md``). The rollups are read at the grain and the single slice the sidebar chose;
the only arithmetic is unit conversion (minutes to hours). Ticket lists select rows of
``fct_incidents`` with the same population and date column as the mart they explain.

Identifiers in the SQL come from the constants below, never from input; values are bound.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError, OperationalError
from streamlit.connections import SQLConnection

from operational.core.config import get_settings
from operational.core.db import normalize_url

CONNECTION_NAME = "marts"
SCHEMA = "marts"


class MartsUnavailable(Exception):
    """The marts cannot be read: not configured, not built, or the database does not answer."""


# --- connection -------------------------------------------------------------------------------


def connection() -> SQLConnection:
    settings = get_settings()
    if not settings.marts_url:
        raise MartsUnavailable(
            "No marts connection is configured: start the dashboards with `itsm dashboards`, "
            "which sets ITSM_MARTS_URL to the read-only analyst role."
        )
    return st.connection(
        CONNECTION_NAME,
        type="sql",
        url=normalize_url(settings.marts_url),
        pool_pre_ping=True,
    )


def read(sql: str, **params: Any) -> pd.DataFrame:
    """One cached query (TTL from Settings.dashboards_cache_seconds)."""
    try:
        return connection().query(
            sql,
            params=params,
            ttl=get_settings().dashboards_cache_seconds,
            show_spinner=False,
        )
    except (DatabaseError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
        original = getattr(cause, "orig", cause)
        if isinstance(cause, OperationalError):
            raise MartsUnavailable(
                f"The marts database does not answer ({_first_line(original)})."
            ) from exc
        raise MartsUnavailable(
            "A mart this page reads is missing, or the marts role may not read it; rebuild the "
            f"marts with `itsm pipelines run`. ({_first_line(original)})"
        ) from exc


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# --- freshness and filter values --------------------------------------------------------------


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


# --- periods ----------------------------------------------------------------------------------


def period_start(day: date, grain: str) -> date:
    """Start of the day, ISO week (Monday) or month holding ``day``, as dbt cuts periods."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def next_period(start: date, grain: str) -> date:
    if grain == "week":
        return start + timedelta(days=7)
    if grain == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def previous_period(start: date, grain: str) -> date:
    if grain == "week":
        return start - timedelta(days=7)
    if grain == "month":
        return (start - timedelta(days=1)).replace(day=1)
    return start - timedelta(days=1)


def periods(filters: Any) -> list[date]:
    """Period starts that overlap the date range, newest first."""
    found = []
    current = period_start(filters.start, filters.grain)
    while current <= filters.end:
        found.append(current)
        current = next_period(current, filters.grain)
    return found[::-1]


def _window(filters: Any) -> dict[str, Any]:
    return {
        "grain": filters.grain,
        "first": period_start(filters.start, filters.grain),
        "last": period_start(filters.end, filters.grain),
    }


def _kpi_window(filters: Any) -> dict[str, Any]:
    """Like _window, but reaching back to the period before the first (for comparisons)."""
    window = _window(filters)
    window["first"] = min(window["first"], previous_period(window["last"], filters.grain))
    return window


# --- metric rollups ---------------------------------------------------------------------------

# Columns each rollup offers, converted to hours where they are minutes.
MEASURES = {
    "mttr_per_period": """
        resolved_count,
        mttr_minutes / 60.0 as mttr_hours,
        mttr_median_minutes / 60.0 as mttr_median_hours,
        mttr_p90_minutes / 60.0 as mttr_p90_hours,
        business_time_count,
        mttr_business_minutes / 60.0 as mttr_business_hours,
        mttr_median_business_minutes / 60.0 as mttr_median_business_hours,
        mttr_p90_business_minutes / 60.0 as mttr_p90_business_hours""",
    "mtta_per_period": """
        acknowledged_count,
        mtta_minutes / 60.0 as mtta_hours,
        mtta_median_minutes / 60.0 as mtta_median_hours,
        mtta_p90_minutes / 60.0 as mtta_p90_hours,
        business_time_count,
        mtta_business_minutes / 60.0 as mtta_business_hours,
        mtta_median_business_minutes / 60.0 as mtta_median_business_hours,
        mtta_p90_business_minutes / 60.0 as mtta_p90_business_hours""",
    "fcr_per_period": """
        resolved_count,
        first_contact_resolved_count,
        fcr_rate""",
    "csat_per_period": """
        surveys_sent_count,
        response_rate,
        answer_count,
        satisfied_count,
        csat_rate,
        mean_rating""",
    "reopen_rate_per_period": """
        first_resolved_count,
        reopened_count,
        reopen_rate""",
    "reassignment_rate_per_period": """
        resolved_count,
        reassigned_count,
        reassignment_count,
        reassignment_rate""",
    "sla_compliance_per_period": """
        target_type,
        completed_count,
        met_count,
        breached_count,
        compliance_rate""",
    "change_success_per_period": """
        completed_count,
        successful_count,
        failed_count,
        backed_out_count,
        caused_incident_count,
        success_rate,
        emergency_count,
        emergency_share""",
    "backlog_per_period": """
        age_bucket,
        bucket_order,
        snapshot_date,
        open_count""",
}


def _rollup_sql(mart: str, *, by_slice: bool) -> str:
    measures = MEASURES[mart]
    slice_condition = (
        "slice_by = :slice_by"
        if by_slice
        else "slice_by = :slice_by and slice_value = :slice_value"
    )
    return f"""
        select period_start, slice_by, slice_value, {measures}
        from {SCHEMA}.{mart}
        where period_grain = :grain
            and period_start between :first and :last
            and {slice_condition}
        order by period_start, slice_value
    """


# Sidebar dimensions each change rollup is sliced by; incident rollups take all four.
CHANGE_MARTS = {"change_success_per_period": ("team",)}


def slice_for(mart: str, filters: Any) -> tuple[str, str]:
    """The (slice_by, slice_value) of ``mart`` that the sidebar selects."""
    if mart in CHANGE_MARTS:
        for dimension in CHANGE_MARTS[mart]:
            if filters.value(dimension) is not None:
                return dimension, filters.value(dimension)
        return "all", "all"
    return filters.slice


def trend(mart: str, filters: Any, *, with_previous: bool = False) -> pd.DataFrame:
    """Rows of one rollup for the filters' slice, one per period (and extra key) in the range."""
    by, value = slice_for(mart, filters)
    window = _kpi_window(filters) if with_previous else _window(filters)
    frame = read(_rollup_sql(mart, by_slice=False), slice_by=by, slice_value=value, **window)
    return _dates(frame)


def by_dimension(
    mart: str, filters: Any, dimension: str, *, period: date | None = None
) -> pd.DataFrame:
    """Rows of one rollup for every value of ``dimension``: one per period and value, or only
    those of ``period`` when given."""
    window = _window(filters)
    if period is not None:
        window.update(first=period, last=period)
    frame = read(_rollup_sql(mart, by_slice=True), slice_by=dimension, **window)
    return _dates(frame)


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("period_start", "snapshot_date"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column])
    return frame


# --- SLA lists --------------------------------------------------------------------------------

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
    return _with_links(
        read(
            UPCOMING_BREACHES_SQL,
            until=until,
            team=filters.value("team"),
            priority=filters.value("priority"),
            service=filters.value("service"),
            category=filters.value("category"),
        )
    )


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
    return _with_links(read(BREACH_REGISTER_SQL, **_plain_filters(filters), limit=limit))


def breach_register_count(filters: Any) -> int:
    return int(read(BREACH_REGISTER_COUNT_SQL, **_plain_filters(filters))["n"].iloc[0])


def breach_register_csv(filters: Any) -> bytes:
    """The whole register for the filters, read when the button is pressed (not cached)."""
    sql = BREACH_REGISTER_SQL.replace("limit :limit", "")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with connection().session as session:
        result = session.execute(text(sql), _plain_filters(filters))
        writer.writerow([*result.keys(), "api_url"])
        for row in result:
            writer.writerow([*row, api_url("fct_incidents", row[0])])
    return buffer.getvalue().encode()


def _plain_filters(filters: Any) -> dict[str, Any]:
    return {
        "start": filters.start,
        "end": filters.end,
        "team": filters.value("team"),
        "priority": filters.value("priority"),
        "service": filters.value("service"),
        "category": filters.value("category"),
    }


def _with_links(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds ``api_url`` (the ticket in the API) right after the ticket number."""
    position = frame.columns.get_loc("incident_number") + 1
    frame.insert(position, "api_url", [api_url("fct_incidents", i) for i in frame["incident_id"]])
    return frame


# --- ticket lists (drill-down) ----------------------------------------------------------------


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
}
API_PATHS = {
    "fct_incidents": "/api/v1/incidents/",
    "fct_csat_answers": "/api/v1/incidents/",
    "fct_incident_open_intervals": "/api/v1/incidents/",
    "fct_changes": "/api/v1/changes/",
}

DATETIME_FORMAT = "YYYY-MM-DD HH:mm"
# The dimensions the sidebar filters on, as every incident list shows them.
SLICE_COLUMNS: dict[str, Any] = {
    "priority_label": st.column_config.TextColumn("Priority"),
    "team_name": st.column_config.TextColumn("Team"),
    "service_name": st.column_config.TextColumn("Service"),
    "category": st.column_config.TextColumn("Category"),
    "channel": st.column_config.TextColumn("Channel"),
}
RECORD_COLUMNS: dict[str, dict[str, Any]] = {
    "fct_incidents": {
        "record_number": st.column_config.TextColumn("Ticket"),
        "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
        "title": st.column_config.TextColumn("Title", width="medium"),
        "lifecycle_status": st.column_config.TextColumn("Status"),
        **SLICE_COLUMNS,
        "opened_at": st.column_config.DatetimeColumn("Opened", format=DATETIME_FORMAT),
        "acknowledged_at": st.column_config.DatetimeColumn("Acknowledged", format=DATETIME_FORMAT),
        "resolved_at": st.column_config.DatetimeColumn("Resolved", format=DATETIME_FORMAT),
        "hours_to_acknowledge": st.column_config.NumberColumn("To acknowledge (h)", format="%.1f"),
        "hours_to_resolve": st.column_config.NumberColumn("To resolve (h)", format="%.1f"),
        "reassignment_count": st.column_config.NumberColumn("Reassignments"),
        "reopen_count": st.column_config.NumberColumn("Reopens"),
        "is_first_contact_resolution": st.column_config.CheckboxColumn("FCR"),
        "response_sla_met": st.column_config.CheckboxColumn("Response SLA met"),
        "resolution_sla_met": st.column_config.CheckboxColumn("Resolution SLA met"),
        "csat_rating": st.column_config.NumberColumn("CSAT", format="%d ★"),
    },
    "fct_csat_answers": {
        "record_number": st.column_config.TextColumn("Ticket"),
        "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
        "answered_at": st.column_config.DatetimeColumn("Answered", format=DATETIME_FORMAT),
        "rating": st.column_config.NumberColumn("Rating", format="%d ★"),
        "comment": st.column_config.TextColumn("Comment", width="large"),
        **SLICE_COLUMNS,
    },
    "fct_incident_open_intervals": {
        "record_number": st.column_config.TextColumn("Ticket"),
        "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
        "incident_opened_at": st.column_config.DatetimeColumn(
            "First opened", format=DATETIME_FORMAT
        ),
        "open_since": st.column_config.DatetimeColumn("Open since", format=DATETIME_FORMAT),
        "open_until": st.column_config.DatetimeColumn("Open until", format=DATETIME_FORMAT),
        "lifecycle_status": st.column_config.TextColumn("Status now"),
        **SLICE_COLUMNS,
    },
    "fct_changes": {
        "record_number": st.column_config.TextColumn("Change"),
        "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
        "title": st.column_config.TextColumn("Title", width="medium"),
        "change_type": st.column_config.TextColumn("Type"),
        "state": st.column_config.TextColumn("State"),
        "risk_level": st.column_config.TextColumn("Risk"),
        "team_name": st.column_config.TextColumn("Team"),
        "planned_start": st.column_config.DatetimeColumn("Planned start", format=DATETIME_FORMAT),
        "planned_end": st.column_config.DatetimeColumn("Planned end", format=DATETIME_FORMAT),
        "actual_start": st.column_config.DatetimeColumn("Started", format=DATETIME_FORMAT),
        "actual_end": st.column_config.DatetimeColumn("Ended", format=DATETIME_FORMAT),
        "closed_at": st.column_config.DatetimeColumn("Closed", format=DATETIME_FORMAT),
        "is_successful": st.column_config.CheckboxColumn("Successful"),
        "caused_incident_count": st.column_config.NumberColumn("Incidents caused"),
    },
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
        return {"fct_changes": "changes", "fct_csat_answers": "survey answers"}.get(
            self.table, "incidents"
        )

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
    frame = read(sql + " limit :limit", limit=limit, **params)
    frame.insert(2, "api_url", [api_url(spec.table, record) for record in frame["record_id"]])
    return frame


def drill_csv(spec: Drill) -> bytes:
    """Every row behind the number as CSV, read when the button is pressed (not cached)."""
    sql, params = _drill_sql(spec)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with connection().session as session:
        result = session.execute(text(sql), params)
        writer.writerow([*result.keys(), "api_url"])
        for row in result:
            writer.writerow([*row, api_url(spec.table, row[0])])
    return buffer.getvalue().encode()


def api_url(table: str, record_id: object) -> str:
    return f"{get_settings().api_base_url.rstrip('/')}{API_PATHS[table]}{record_id}"


# --- team performance -------------------------------------------------------------------------

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


MART_EXISTS_SQL = "select to_regclass(:name) is not null as present"


def mart_exists(name: str) -> bool:
    return bool(read(MART_EXISTS_SQL, name=f"{SCHEMA}.{name}")["present"].iloc[0])


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
    return _with_links(read(CSAT_COMMENTS_SQL, **_plain_filters(filters), limit=limit))


# --- changes ----------------------------------------------------------------------------------

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
    frame.insert(2, "api_url", [api_url("fct_changes", i) for i in frame["change_id"]])
    return frame


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
    frame.insert(2, "api_url", [api_url("fct_changes", i) for i in frame["change_id"]])
    return frame


# --- compliance -------------------------------------------------------------------------------

APPROVAL_FLAGS = {
    "is_implemented_without_approval": "Implemented without approval",
    "is_implemented_outside_window": "Implemented outside its window",
    "is_in_blackout": "Implemented in a blackout",
    "is_emergency_without_retrospective": "Emergency without retrospective review",
}

APPROVAL_EVIDENCE_SQL = """
select
    change_id, change_number, title, change_type, state, team_name, implemented_date,
    authorization_outcome, authorization_rule, authorization_quorum,
    authorization_approved_count, authorization_rejected_count, approvers, quorum_met,
    retrospective_outcome,
    is_implemented_without_approval, is_implemented_outside_window, is_in_blackout,
    is_emergency_without_retrospective
from marts.change_approval_evidence
where implemented_date between :start and :end
    and (cast(:team as text) is null or team_name = :team)
order by implemented_date desc, change_number
"""


def approval_evidence(filters: Any) -> pd.DataFrame:
    frame = read(
        APPROVAL_EVIDENCE_SQL, start=filters.start, end=filters.end, team=filters.value("team")
    )
    frame.insert(2, "api_url", [api_url("fct_changes", i) for i in frame["change_id"]])
    return frame


ACCESS_REVIEW_SQL = """
select
    user_id, display_name, email, roles, team_names, is_active, is_privileged, is_mfa_enabled,
    is_privileged_without_mfa, last_login_at, days_since_last_login, failed_logins_last_30_days,
    roles_changed_at
from marts.access_review
where can_log_in
order by is_privileged_without_mfa desc, is_privileged desc, email
"""


def access_review() -> pd.DataFrame:
    return read(ACCESS_REVIEW_SQL)


AUDIT_TRAIL_SQL = """
select activity_date, entity_type, event_kind, event_count, record_count, actor_count,
    system_event_count, imported_event_count
from marts.audit_trail_summary
where activity_date between :start and :end
order by activity_date desc, entity_type, event_kind
limit 1000
"""


def audit_trail(filters: Any) -> pd.DataFrame:
    return read(AUDIT_TRAIL_SQL, start=filters.start, end=filters.end)
