"""The Custom fields page: incidents, problems or requests sliced by the value of a choice
custom field (``incidents_per_choice_value``, ``problems_per_choice_value``,
``requests_per_choice_value``), and the records behind a value (the record type's companion
table, ``fct_<type>_custom_fields``, with its ``fct_`` table)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.queries.db import read
from dashboards.queries.records import with_links
from dashboards.queries.reporting_periods import period_start

# The record types the page slices, as the marts name them.
RECORD_TYPES = ("incident", "problem", "request")
_ROLLUPS = {
    "incident": "marts.incidents_per_choice_value",
    "problem": "marts.problems_per_choice_value",
    "request": "marts.requests_per_choice_value",
}
# Each rollup's figures, beside period_start and choice_value (minutes shown as hours).
_FIGURES = {
    "incident": "opened_count, resolved_count, mttr_mean_minutes / 60.0 as mttr_mean_hours,"
    " resolution_sla_compliance_pct",
    "problem": "opened_count, resolved_count, minutes_to_fix_mean / 60.0 as fix_mean_hours",
    "request": "opened_count, closed_count, minutes_to_close_mean / 60.0 as close_mean_hours",
}

CHOICE_FIELDS_SQL = """
select distinct field_name, field_label, choice_value
from {rollup}
where period_grain = 'month'
order by field_label, field_name, choice_value
"""


def choice_fields(record_type: str = "incident") -> pd.DataFrame:
    """Every choice field of the record type with values, and its values (field_name,
    field_label, choice_value)."""
    return read(CHOICE_FIELDS_SQL.format(rollup=_ROLLUPS[record_type]))


CHOICE_ROLLUP_SQL = """
select period_start, choice_value, {figures}
from {rollup}
where period_grain = :grain and field_name = :field
    and period_start between :first_period and :end
    and (cast(:value as text) is null or choice_value = :value)
order by period_start, choice_value
"""


def choice_rollup(
    filters: Any, *, field: str, value: str | None, record_type: str = "incident"
) -> pd.DataFrame:
    """The field's values per period of the sidebar's grain and range (one value, or all)."""
    sql = CHOICE_ROLLUP_SQL.format(figures=_FIGURES[record_type], rollup=_ROLLUPS[record_type])
    return read(
        sql,
        grain=filters.grain,
        field=field,
        value=value,
        first_period=period_start(filters.start, filters.grain),
        end=filters.end,
    )


CHOICE_INCIDENTS_SQL = """
select
    incidents.incident_id, incidents.incident_number, incidents.title, chosen.value_text,
    incidents.state, incidents.priority_label, incidents.team_name, incidents.opened_at,
    incidents.resolved_at
from marts.fct_incident_custom_fields as chosen
join marts.fct_incidents as incidents on incidents.incident_id = chosen.incident_id
where chosen.field_name = :field
    and (cast(:value as text) is null or chosen.value_text = :value)
    and incidents.opened_date between :start and :end
order by incidents.opened_at desc
limit 300
"""
CHOICE_PROBLEMS_SQL = """
select
    problems.problem_id, problems.problem_number, problems.title, chosen.value_text,
    problems.state, problems.priority_label, problems.team_name, problems.opened_at,
    problems.resolved_at
from marts.fct_problem_custom_fields as chosen
join marts.fct_problems as problems on problems.problem_id = chosen.problem_id
where chosen.field_name = :field
    and (cast(:value as text) is null or chosen.value_text = :value)
    and problems.opened_date between :start and :end
order by problems.opened_at desc
limit 300
"""
CHOICE_REQUESTS_SQL = """
select
    requests.request_id, requests.request_number, chosen.value_text, requests.request_state,
    requests.item_count, requests.total_cost, requests.opened_at, requests.closed_at
from marts.fct_request_custom_fields as chosen
join marts.fct_requests as requests on requests.request_id = chosen.request_id
where chosen.field_name = :field
    and (cast(:value as text) is null or chosen.value_text = :value)
    and requests.opened_date between :start and :end
order by requests.opened_at desc
limit 300
"""
_RECORDS = {
    "incident": (CHOICE_INCIDENTS_SQL, "fct_incidents"),
    "problem": (CHOICE_PROBLEMS_SQL, "fct_problems"),
    "request": (CHOICE_REQUESTS_SQL, "fct_requests"),
}


def choice_records(
    filters: Any, *, field: str, value: str | None, record_type: str = "incident"
) -> pd.DataFrame:
    """The records opened in the range with the field's value (any value when None); the
    record's id first, its number second, then its link to the API."""
    sql, table = _RECORDS[record_type]
    frame = read(sql, field=field, value=value, start=filters.start, end=filters.end)
    return with_links(frame, table)
