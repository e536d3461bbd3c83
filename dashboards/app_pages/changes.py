"""Changes: success rate, emergency share, the calendar of the next 30 days, and collisions."""

import streamlit as st

from dashboards import charts, filters, queries, ui

MART = "change_success_per_period"

chosen = filters.current()
ui.page_header(
    "Changes",
    chosen,
    caption="Success: a completed change closed as successful by its review and causing no "
    "incident. Completed: closed, failed or backed out, in the period of closing.",
)
if any(dimension != "team" for dimension in chosen.chosen):
    st.caption("Changes are sliced by team only: priority, service and category do not apply.")

rates = queries.trend(MART, chosen)
left, right = st.columns(2)
with left:
    st.subheader("Success rate")
    if rates.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                rates,
                value="success_rate",
                grain=chosen.grain,
                title="Change success",
                tooltip_extra=[
                    charts.alt.Tooltip("completed_count:Q", title="Completed", format=","),
                    charts.alt.Tooltip("failed_count:Q", title="Failed", format=","),
                    charts.alt.Tooltip("backed_out_count:Q", title="Backed out", format=","),
                    charts.alt.Tooltip(
                        "caused_incident_count:Q", title="Caused incidents", format=","
                    ),
                ],
            ),
            key="changes_success",
            drill=lambda point: queries.drill(
                "changes_unsuccessful", chosen, period=ui.picked_period(point)
            ),
        )
with right:
    st.subheader("Emergency share")
    if rates.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                rates,
                value="emergency_share",
                grain=chosen.grain,
                title="Emergency changes",
                tooltip_extra=[
                    charts.alt.Tooltip("emergency_count:Q", title="Emergency", format=","),
                    charts.alt.Tooltip("completed_count:Q", title="Completed", format=","),
                ],
            ),
            key="changes_emergency",
            drill=lambda point: queries.drill(
                "changes_emergency", chosen, period=ui.picked_period(point)
            ),
        )

st.subheader("Calendar: the next 30 days")
calendar = queries.change_calendar(chosen)
if calendar.empty:
    ui.empty("No change is planned in the next 30 days for these filters.")
else:
    calendar["label"] = calendar["change_number"] + " · " + calendar["title"].str.slice(0, 40)
    ui.chart(
        charts.calendar(
            calendar,
            label="label",
            start="planned_start",
            end="planned_end",
            color="change_type",
            color_title="Type",
            tooltip_fields=[
                ("change_number:N", "Change"),
                ("title:N", "Title"),
                ("state:N", "State"),
                ("risk_level:N", "Risk"),
                ("team_name:N", "Team"),
                ("planned_start:T", "Planned start"),
                ("planned_end:T", "Planned end"),
            ],
        ),
        key="changes_calendar",
    )
    st.dataframe(
        calendar.drop(columns=["change_id", "label"]),
        hide_index=True,
        width="stretch",
        column_config=queries.RECORD_COLUMNS["fct_changes"]
        | {"change_number": st.column_config.TextColumn("Change")},
    )

st.subheader("Collisions")
overrides = queries.conflict_overrides(chosen)
st.caption(
    "Changes scheduled over a collision (another change on the same configuration item, or a "
    "blackout window) with a recorded override reason."
)
if overrides.empty:
    ui.empty("No change was scheduled over a collision in the date range.")
else:
    st.dataframe(
        overrides.drop(columns=["change_id"]),
        hide_index=True,
        width="stretch",
        column_config=queries.RECORD_COLUMNS["fct_changes"]
        | {
            "change_number": st.column_config.TextColumn("Change"),
            "conflict_override_reason": st.column_config.TextColumn(
                "Override reason", width="large"
            ),
            "is_scheduled_over_blackout": st.column_config.CheckboxColumn("Over a blackout"),
        },
    )

ui.ticket_explorer(
    "changes",
    chosen,
    {
        "Changes completed": lambda day: queries.drill("changes_completed", chosen, period=day),
        "Changes completed without success": lambda day: queries.drill(
            "changes_unsuccessful", chosen, period=day
        ),
        "Emergency changes completed": lambda day: queries.drill(
            "changes_emergency", chosen, period=day
        ),
    },
)
