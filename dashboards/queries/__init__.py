"""Every SQL statement of the dashboards. They read schema ``marts`` as the read-only analyst
role, through ``st.connection(type="sql")`` with a TTL cache; the access review alone reads
schema ``personal``, as the read-only auditor role, for auditors and admins.

Nothing here defines a metric: each figure is a column of a dbt mart (definitions in
``dbt/README.md``). The rollups are read at the grain and the single slice the sidebar chose;
the only arithmetic is unit conversion (minutes to hours). Ticket lists select rows of
``fct_incidents`` with the same population and date column as the mart they explain.

Identifiers in the SQL come from the modules' constants, never from input; values are bound.

Shared by every page:

- ``db``: the connection and the one cached read;
- ``marts``: freshness, the sidebar's filter values, whether an optional mart exists;
- ``reporting_periods``: days, ISO weeks and months as dbt cuts them;
- ``rollups``: the metric rollups (``<metric>_per_period``);
- ``records``: what every list of records shares (API links, column formats, filter params);
- ``drill_down``: the records behind any number.

One module per page with lists or tables of its own, named after it: ``sla``, ``fcr_csat``,
``teams``, ``changes``, ``requests``, ``compliance``, ``problems`` (the Problems and knowledge
page, whose rollups are sliced by their own dimensions: ``queries.problems.rollup``),
``custom_fields`` (incidents, problems or requests sliced by a choice custom field).

Pages use the names below as ``queries.<name>``.
"""

from dashboards.queries import problems
from dashboards.queries.changes import change_calendar, conflict_overrides
from dashboards.queries.compliance import (
    APPROVAL_FLAGS,
    access_review,
    approval_evidence,
    audit_trail,
    source_reconciliation,
)
from dashboards.queries.custom_fields import (
    choice_fields,
    choice_records,
    choice_rollup,
)
from dashboards.queries.db import MartsUnavailable, connection, personal_connection, read
from dashboards.queries.drill_down import Drill, drill, drill_count, drill_csv, drill_rows
from dashboards.queries.fcr_csat import csat_comments
from dashboards.queries.marts import filter_values, freshness
from dashboards.queries.records import DATETIME_FORMAT, RECORD_COLUMNS
from dashboards.queries.reporting_periods import (
    next_period,
    period_start,
    periods,
    previous_period,
)
from dashboards.queries.requests import catalog_items, request_volume
from dashboards.queries.rollups import by_dimension, trend
from dashboards.queries.sla import (
    breach_register,
    breach_register_count,
    breach_register_csv,
    upcoming_breaches,
)
from dashboards.queries.teams import agent_performance, team_performance

__all__ = [
    "APPROVAL_FLAGS",
    "DATETIME_FORMAT",
    "RECORD_COLUMNS",
    "Drill",
    "MartsUnavailable",
    "access_review",
    "agent_performance",
    "approval_evidence",
    "audit_trail",
    "breach_register",
    "breach_register_count",
    "breach_register_csv",
    "by_dimension",
    "catalog_items",
    "change_calendar",
    "choice_fields",
    "choice_records",
    "choice_rollup",
    "conflict_overrides",
    "connection",
    "csat_comments",
    "drill",
    "drill_count",
    "drill_csv",
    "drill_rows",
    "filter_values",
    "freshness",
    "next_period",
    "period_start",
    "periods",
    "personal_connection",
    "previous_period",
    "problems",
    "read",
    "request_volume",
    "source_reconciliation",
    "team_performance",
    "trend",
    "upcoming_breaches",
]
