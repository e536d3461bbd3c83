"""SLA: compliance over time by target type, priority and team; upcoming breaches; the register."""

import streamlit as st

from dashboards import charts, filters, queries, ui

MART = "sla_compliance_per_period"
TARGETS = {"resolution": "Resolution", "response": "Response"}
BREACHED = {"resolution": "resolution_breached", "response": "response_breached"}
TOP_TEAMS = 15


def _target_type(label: object) -> str:
    return next(key for key, value in TARGETS.items() if value == label)


chosen = filters.current()
ui.page_header(
    "SLA",
    chosen,
    caption="Compliance: share of SLA timers completed (met or breached) in a period that met "
    "their target. A timer counts in the period in which it completed.",
)

overall = queries.trend(MART, chosen)
st.subheader("Compliance over time")
if overall.empty:
    ui.empty()
else:
    overall["target"] = overall["target_type"].map(TARGETS)
    ui.chart(
        charts.rate_trend(
            overall,
            value="compliance_rate",
            grain=chosen.grain,
            title="SLA compliance",
            series="target",
            series_title="Target",
            tooltip_extra=[
                charts.alt.Tooltip("met_count:Q", title="Met", format=","),
                charts.alt.Tooltip("breached_count:Q", title="Breached", format=","),
            ],
        ),
        key="sla_trend",
        drill=lambda point: queries.drill(
            BREACHED[_target_type(point["target"])],
            chosen,
            period=ui.picked_period(point),
        ),
    )


target = st.segmented_control(
    "Target type for the breakdowns",
    list(TARGETS),
    format_func=TARGETS.get,
    default="resolution",
    key="sla_target",
)
target = target or "resolution"

left, right = st.columns(2)
with left:
    st.subheader("By priority")
    by_priority = queries.by_dimension(MART, chosen, "priority")
    by_priority = by_priority[by_priority["target_type"] == target]
    if by_priority.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                by_priority,
                value="compliance_rate",
                grain=chosen.grain,
                title=f"{TARGETS[target]} compliance",
                series="slice_value",
                series_title="Priority",
            ),
            key="sla_priority",
            drill=lambda point: queries.drill(
                BREACHED[target],
                chosen,
                period=ui.picked_period(point),
                extra={"priority": str(point["slice_value"])},
            ),
        )
        if chosen.value("priority") is None and len(chosen.chosen):
            ui.not_sliced_note("priority", chosen)

with right:
    st.subheader("By team")
    period = ui.breakdown_period(chosen, key="sla_team_period")
    by_team = queries.by_dimension(MART, chosen, "team", period=period)
    by_team = by_team[
        (by_team["target_type"] == target) & (by_team["period_start"].dt.date == period)
    ]
    if by_team.empty:
        ui.empty()
    else:
        worst = by_team.sort_values(["compliance_rate", "completed_count"], ascending=[True, False])
        ui.chart(
            charts.ranked_bars(
                worst.head(TOP_TEAMS),
                category="slice_value",
                value="compliance_rate",
                category_title="Team",
                value_title=f"{TARGETS[target]} compliance",
                percent=True,
                ascending=True,
            ),
            key="sla_team",
            drill=lambda point: queries.drill(
                BREACHED[target],
                chosen,
                period=period,
                extra={"team": str(point["slice_value"])},
            ),
        )
        st.caption(
            f"The {min(TOP_TEAMS, len(worst))} teams with the lowest compliance in "
            f"{ui.period_label(period, chosen.grain)}; every team is in the table."
        )
        with st.expander(f"All {len(worst)} teams"):
            st.dataframe(
                worst[["slice_value", "compliance_rate", "met_count", "breached_count"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "slice_value": st.column_config.TextColumn("Team"),
                    "compliance_rate": st.column_config.ProgressColumn(
                        "Compliance", format="percent", min_value=0, max_value=1
                    ),
                    "met_count": st.column_config.NumberColumn("Met"),
                    "breached_count": st.column_config.NumberColumn("Breached"),
                },
            )

st.subheader("Upcoming breaches")
hours = st.segmented_control(
    "Running timers due within",
    [4, 8, 24, 72],
    format_func=lambda value: f"{value} h",
    default=24,
    key="sla_upcoming_hours",
)
upcoming = queries.upcoming_breaches(chosen, hours=hours or 24)
if upcoming.empty:
    ui.empty("No running SLA timer is due in that window for these filters.")
else:
    st.dataframe(
        upcoming.drop(columns=["incident_id", "timer_state"]),
        hide_index=True,
        width="stretch",
        column_config=ui.INCIDENT_LIST_COLUMNS,
    )
    st.caption(
        "Timers still running at the last build whose due time falls before now plus the "
        "window; overdue ones first."
    )

st.subheader("Breach register")
register = queries.breach_register(chosen, limit=ui.SHOWN_TICKETS)
total = queries.breach_register_count(chosen)
if register.empty:
    ui.empty()
else:
    st.dataframe(
        register.drop(columns=["incident_id"]),
        hide_index=True,
        width="stretch",
        column_config=ui.INCIDENT_LIST_COLUMNS,
    )
    if total > len(register):
        st.caption(
            f"Showing the newest {len(register):,} of {total:,} breaches; the CSV holds all."
        )
    st.download_button(
        "Download the register (CSV)",
        data=lambda: queries.breach_register_csv(chosen),
        file_name=f"sla_breach_register_{chosen.start}_{chosen.end}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="sla_register_csv",
    )

ui.ticket_explorer(
    "sla",
    chosen,
    {
        "Resolution timers breached": lambda period: queries.drill(
            "resolution_breached", chosen, period=period
        ),
        "Response timers breached": lambda period: queries.drill(
            "response_breached", chosen, period=period
        ),
        "Resolution timers completed": lambda period: queries.drill(
            "resolution_completed", chosen, period=period
        ),
        "Response timers completed": lambda period: queries.drill(
            "response_completed", chosen, period=period
        ),
    },
)
