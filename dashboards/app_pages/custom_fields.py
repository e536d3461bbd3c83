"""Custom fields: incidents, problems or requests sliced by the value of a choice custom field,
per period, and the records behind a value."""

import streamlit as st

from dashboards import filters, queries, ui
from dashboards.queries.records import DATETIME_FORMAT

ALL_VALUES = "All values"
RECORD_TYPES = {"incident": "Incidents", "problem": "Problems", "request": "Requests"}
# What each record type's rollup shows beside the period and the value.
FIGURES = {
    "incident": {
        "opened_count": st.column_config.NumberColumn("Opened", format="%d"),
        "resolved_count": st.column_config.NumberColumn("Resolved", format="%d"),
        "mttr_mean_hours": st.column_config.NumberColumn("MTTR mean (h)", format="%.1f"),
        "resolution_sla_compliance_pct": st.column_config.NumberColumn(
            "Resolution SLA (%)", format="%.1f"
        ),
    },
    "problem": {
        "opened_count": st.column_config.NumberColumn("Opened", format="%d"),
        "resolved_count": st.column_config.NumberColumn("Resolved", format="%d"),
        "fix_mean_hours": st.column_config.NumberColumn("Time to fix mean (h)", format="%.1f"),
    },
    "request": {
        "opened_count": st.column_config.NumberColumn("Ordered", format="%d"),
        "closed_count": st.column_config.NumberColumn("Closed", format="%d"),
        "close_mean_hours": st.column_config.NumberColumn("Time to close mean (h)", format="%.1f"),
    },
}
RECORD_COLUMNS = {
    "incident_number": st.column_config.TextColumn("Incident"),
    "problem_number": st.column_config.TextColumn("Problem"),
    "request_number": st.column_config.TextColumn("Request"),
    "api_url": st.column_config.LinkColumn("Open", display_text="API"),
    "request_state": st.column_config.TextColumn("State"),
    "item_count": st.column_config.NumberColumn("Items", format="%d"),
    "total_cost": st.column_config.NumberColumn("Cost", format="%.2f"),
    "opened_at": st.column_config.DatetimeColumn("Opened", format=DATETIME_FORMAT),
    "resolved_at": st.column_config.DatetimeColumn("Resolved", format=DATETIME_FORMAT),
    "closed_at": st.column_config.DatetimeColumn("Closed", format=DATETIME_FORMAT),
}

chosen = filters.current()
ui.page_header(
    "Custom fields",
    chosen,
    caption="Incidents, problems or requests with a value of a choice custom field: opened in "
    "the period, and resolved (closed, for requests) in the period with their mean time to "
    "resolve, fix or close (calendar hours); for incidents also resolution SLA compliance. A "
    "record without a value for the field is left out.",
)
if chosen.chosen:
    st.caption("This page slices by the custom field only: the sidebar's dimensions do not apply.")

record_type = st.radio(
    "Records", list(RECORD_TYPES), format_func=RECORD_TYPES.get, horizontal=True,
    key="custom_field_records",
)  # fmt: skip
records_label = RECORD_TYPES[record_type]
fields = queries.choice_fields(record_type)
if fields.empty:
    ui.empty(f"No choice custom field of {records_label.lower()} has values yet.")
    st.stop()

labels = {
    name: f"{group['field_label'].iloc[0]} (cf.{name})"
    for name, group in fields.groupby("field_name", sort=False)
}
left, right = st.columns(2)
with left:
    field = st.selectbox(
        "Choice field", list(labels), format_func=labels.get, key=f"custom_field_pick_{record_type}"
    )
values = list(fields.loc[fields["field_name"] == field, "choice_value"])
with right:
    picked = st.selectbox("Value", [ALL_VALUES, *values], key=f"custom_field_value_{record_type}")
value = None if picked == ALL_VALUES else picked

rollup = queries.choice_rollup(chosen, field=field, value=value, record_type=record_type)
st.subheader(f"{records_label} by {labels[field]} and {chosen.grain}")
if rollup.empty:
    ui.empty()
else:
    st.bar_chart(rollup, x="period_start", y="opened_count", color="choice_value", stack=True)
    st.dataframe(
        rollup,
        hide_index=True,
        column_config={
            "period_start": st.column_config.DateColumn("Period"),
            "choice_value": st.column_config.TextColumn("Value"),
            **FIGURES[record_type],
        },
    )

st.subheader(f"{records_label} opened in the range")
records = queries.choice_records(chosen, field=field, value=value, record_type=record_type)
if records.empty:
    ui.empty()
else:
    st.dataframe(
        records.iloc[:, 1:],  # the id: the link holds it
        hide_index=True,
        column_config={**RECORD_COLUMNS, "value_text": st.column_config.TextColumn(labels[field])},
    )
