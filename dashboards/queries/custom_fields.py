"""The Custom fields page: incidents sliced by the value of a choice custom field
(``incidents_per_choice_value``), and the incidents behind a value (``fct_incident_custom_fields``
with ``fct_incidents``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.queries.db import read
from dashboards.queries.records import with_links
from dashboards.queries.reporting_periods import period_start

CHOICE_FIELDS_SQL = """
select distinct field_name, field_label, choice_value
from marts.incidents_per_choice_value
where period_grain = 'month'
order by field_label, field_name, choice_value
"""


def choice_fields() -> pd.DataFrame:
    """Every choice field with values, and its values (field_name, field_label, choice_value)."""
    return read(CHOICE_FIELDS_SQL)


CHOICE_ROLLUP_SQL = """
select
    period_start, choice_value, opened_count, resolved_count,
    mttr_mean_minutes / 60.0 as mttr_mean_hours, resolution_sla_compliance_pct
from marts.incidents_per_choice_value
where period_grain = :grain and field_name = :field
    and period_start between :first_period and :end
    and (cast(:value as text) is null or choice_value = :value)
order by period_start, choice_value
"""


def choice_rollup(filters: Any, *, field: str, value: str | None) -> pd.DataFrame:
    """The field's values per period of the sidebar's grain and range (one value, or all)."""
    return read(
        CHOICE_ROLLUP_SQL,
        grain=filters.grain,
        field=field,
        value=value,
        first_period=period_start(filters.start, filters.grain),
        end=filters.end,
    )


CHOICE_INCIDENTS_SQL = """
select
    incidents.incident_id, incidents.incident_number, incidents.title, values.value_text,
    incidents.state, incidents.priority_label, incidents.team_name, incidents.opened_at,
    incidents.resolved_at
from marts.fct_incident_custom_fields as values
join marts.fct_incidents as incidents on incidents.incident_id = values.incident_id
where values.field_name = :field
    and (cast(:value as text) is null or values.value_text = :value)
    and incidents.opened_date between :start and :end
order by incidents.opened_at desc
limit 300
"""


def choice_incidents(filters: Any, *, field: str, value: str | None) -> pd.DataFrame:
    """The incidents opened in the range with the field's value (any value when None)."""
    frame = read(
        CHOICE_INCIDENTS_SQL, field=field, value=value, start=filters.start, end=filters.end
    )
    return with_links(frame, "fct_incidents")
