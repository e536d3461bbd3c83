"""Custom fields: incidents sliced by the value of a choice custom field, per period, and the
incidents behind a value."""

import streamlit as st

from dashboards import filters, queries, ui
from dashboards.queries.records import DATETIME_FORMAT

ALL_VALUES = "All values"

chosen = filters.current()
ui.page_header(
    "Custom fields",
    chosen,
    caption="Incidents with a value of a choice custom field: opened in the period, and "
    "resolved in the period with their mean resolution time (calendar hours) and resolution "
    "SLA compliance. An incident without a value for the field is left out.",
)
if chosen.chosen:
    st.caption("This page slices by the custom field only: the sidebar's dimensions do not apply.")

fields = queries.choice_fields()
if fields.empty:
    ui.empty("No choice custom field has values yet.")
    st.stop()

labels = {
    name: f"{group['field_label'].iloc[0]} (cf.{name})"
    for name, group in fields.groupby("field_name", sort=False)
}
left, right = st.columns(2)
with left:
    field = st.selectbox(
        "Choice field", list(labels), format_func=labels.get, key="custom_field_pick"
    )
values = list(fields.loc[fields["field_name"] == field, "choice_value"])
with right:
    picked = st.selectbox("Value", [ALL_VALUES, *values], key="custom_field_value")
value = None if picked == ALL_VALUES else picked

rollup = queries.choice_rollup(chosen, field=field, value=value)
st.subheader(f"By {labels[field]} and {chosen.grain}")
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
            "opened_count": st.column_config.NumberColumn("Opened", format="%d"),
            "resolved_count": st.column_config.NumberColumn("Resolved", format="%d"),
            "mttr_mean_hours": st.column_config.NumberColumn("MTTR mean (h)", format="%.1f"),
            "resolution_sla_compliance_pct": st.column_config.NumberColumn(
                "Resolution SLA (%)", format="%.1f"
            ),
        },
    )

st.subheader("Incidents opened in the range")
incidents = queries.choice_incidents(chosen, field=field, value=value)
if incidents.empty:
    ui.empty()
else:
    st.dataframe(
        incidents.drop(columns=["incident_id"]),
        hide_index=True,
        column_config={
            "incident_number": st.column_config.TextColumn("Incident"),
            "api_url": st.column_config.LinkColumn("Open", display_text="API"),
            "value_text": st.column_config.TextColumn(labels[field]),
            "opened_at": st.column_config.DatetimeColumn("Opened", format=DATETIME_FORMAT),
            "resolved_at": st.column_config.DatetimeColumn("Resolved", format=DATETIME_FORMAT),
        },
    )
