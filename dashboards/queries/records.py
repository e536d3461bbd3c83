"""What every list of records shares: its link to the API, its CSV, how its columns show, and
the sidebar filters as the bound parameters of its where clause.

Every list selects the record's id first and its number second."""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import text

from dashboards.queries.db import connection
from operational.core.config import get_settings
from operational.core.spreadsheets import escape_cell

API_PATHS = {
    "fct_incidents": "/api/v1/incidents/",
    "fct_csat_answers": "/api/v1/incidents/",
    "fct_incident_open_intervals": "/api/v1/incidents/",
    "fct_changes": "/api/v1/changes/",
    "fct_problems": "/api/v1/problems/",
    "fct_requests": "/api/v1/requests/",
    "fct_request_items": "/api/v1/request-items/",
}


def api_url(table: str, record_id: object) -> str:
    return f"{get_settings().api_base_url.rstrip('/')}{API_PATHS[table]}{record_id}"


def filter_params(filters: Any) -> dict[str, Any]:
    """The date range and every sidebar dimension, for lists that filter on all of them."""
    return {
        "start": filters.start,
        "end": filters.end,
        "team": filters.value("team"),
        "priority": filters.value("priority"),
        "service": filters.value("service"),
        "category": filters.value("category"),
    }


def with_links(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Adds ``api_url`` (the record in the API) right after the record's number."""
    frame.insert(2, "api_url", [api_url(table, record) for record in frame.iloc[:, 0]])
    return frame


def records_csv(sql: str, params: dict[str, Any], table: str) -> bytes:
    """Every row of ``sql`` as CSV, with its ``api_url``; read when the button is pressed (not
    cached). Text that a spreadsheet would read as a formula is escaped (``escape_cell``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with connection().session as session:
        result = session.execute(text(sql), params)
        writer.writerow([*result.keys(), "api_url"])
        for row in result:
            writer.writerow([escape_cell(value) for value in (*row, api_url(table, row[0]))])
    return buffer.getvalue().encode()


DATETIME_FORMAT = "YYYY-MM-DD HH:mm"
# The dimensions the sidebar filters on, as every incident list shows them.
SLICE_COLUMNS: dict[str, Any] = {
    "priority_label": st.column_config.TextColumn("Priority"),
    "team_name": st.column_config.TextColumn("Team"),
    "service_name": st.column_config.TextColumn("Service"),
    "category": st.column_config.TextColumn("Category"),
    "channel": st.column_config.TextColumn("Channel"),
}
# How each table's rows show: the drill-down lists (drill_down.SELECTS) and the change lists.
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
    "fct_request_items": {
        "record_number": st.column_config.TextColumn("Item"),
        "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
        "request_number": st.column_config.TextColumn("Request"),
        "catalog_item_name": st.column_config.TextColumn("Catalog item", width="medium"),
        "item_state": st.column_config.TextColumn("State"),
        "team_name": st.column_config.TextColumn("Team"),
        "opened_at": st.column_config.DatetimeColumn("Ordered", format=DATETIME_FORMAT),
        "approved_at": st.column_config.DatetimeColumn("Approved", format=DATETIME_FORMAT),
        "delivered_at": st.column_config.DatetimeColumn("Delivered", format=DATETIME_FORMAT),
        "hours_to_deliver": st.column_config.NumberColumn("Hours to deliver", format="%.1f"),
        "business_hours_to_deliver": st.column_config.NumberColumn("Business hours", format="%.1f"),
        "approval_wait_hours": st.column_config.NumberColumn("Approval wait (h)", format="%.1f"),
        "delivery_sla_met": st.column_config.CheckboxColumn("On time"),
        "rejection_reason": st.column_config.TextColumn("Rejection reason", width="medium"),
    },
}
