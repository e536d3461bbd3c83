"""Team performance: per team (and per agent, where the marts hold it) the volume, MTTR, FCR,
CSAT and reassignments of one period."""

import streamlit as st

from dashboards import charts, filters, queries, ui

TOP_TEAMS = 20

chosen = filters.current()
ui.page_header(
    "Team performance",
    chosen,
    caption="Each figure is the team's row in the mart that defines it; volume is the number of "
    "incidents the team resolved in the period.",
)

period = ui.breakdown_period(chosen, key="teams_period")
teams = queries.team_performance(chosen, period)
if chosen.unsliced_dimensions or (chosen.chosen and chosen.value("team") is None):
    ui.not_sliced_note("team", chosen)

if teams.empty:
    ui.empty()
else:
    st.dataframe(
        teams,
        hide_index=True,
        width="stretch",
        column_config={
            "team_name": st.column_config.TextColumn("Team"),
            "resolved_count": st.column_config.NumberColumn("Resolved"),
            "mttr_hours": st.column_config.NumberColumn("MTTR mean (h)", format="%.1f"),
            "mttr_median_hours": st.column_config.NumberColumn("MTTR median (h)", format="%.1f"),
            "mttr_p90_hours": st.column_config.NumberColumn("MTTR p90 (h)", format="%.1f"),
            "fcr_rate": st.column_config.ProgressColumn(
                "FCR", format="percent", min_value=0, max_value=1
            ),
            "csat_rate": st.column_config.ProgressColumn(
                "CSAT", format="percent", min_value=0, max_value=1
            ),
            "answer_count": st.column_config.NumberColumn("Survey answers"),
            "reassignment_rate": st.column_config.ProgressColumn(
                "Reassigned", format="percent", min_value=0, max_value=1
            ),
            "reassignment_count": st.column_config.NumberColumn("Reassignments"),
            "resolution_compliance_rate": st.column_config.ProgressColumn(
                "Resolution SLA", format="percent", min_value=0, max_value=1
            ),
        },
    )
    busiest = teams.dropna(subset=["resolved_count"]).head(TOP_TEAMS)
    if not busiest.empty:
        left, right = st.columns(2)
        with left:
            st.subheader("Volume")
            ui.chart(
                charts.ranked_bars(
                    busiest,
                    category="team_name",
                    value="resolved_count",
                    category_title="Team",
                    value_title="Incidents resolved",
                ),
                key="teams_volume",
                drill=lambda point: queries.drill(
                    "resolved", chosen, period=period, extra={"team": str(point["team_name"])}
                ),
            )
        with right:
            st.subheader("MTTR")
            ui.chart(
                charts.ranked_bars(
                    busiest,
                    category="team_name",
                    value="mttr_hours",
                    category_title="Team",
                    value_title="MTTR mean",
                    hours=True,
                ),
                key="teams_mttr",
                drill=lambda point: queries.drill(
                    "resolved", chosen, period=period, extra={"team": str(point["team_name"])}
                ),
            )
        st.caption(
            f"The {len(busiest)} teams that resolved the most incidents in "
            f"{ui.period_label(period, chosen.grain)}."
        )

st.subheader("Per agent")
agents = queries.agent_performance(chosen, period)
if agents is None:
    st.warning(
        "Per-agent figures are not in the marts yet: they need `performance_per_agent` "
        "(see docs/dashboards.md).",
        icon=":material/warning:",
    )
elif agents.empty:
    ui.empty()
else:
    picked = st.dataframe(
        agents,
        hide_index=True,
        width="stretch",
        key="teams_agents",
        on_select="rerun",
        selection_mode="single-row",
        column_order=[column for column in agents.columns if column != "agent_id"],
        column_config={
            "agent_name": st.column_config.TextColumn("Agent"),
            "team_name": st.column_config.TextColumn("Team"),
            "resolved_count": st.column_config.NumberColumn("Resolved"),
            "mttr_hours": st.column_config.NumberColumn("MTTR mean (h)", format="%.1f"),
            "fcr_rate": st.column_config.ProgressColumn(
                "FCR", format="percent", min_value=0, max_value=1
            ),
            "rated_count": st.column_config.NumberColumn("Rated"),
            "csat_rate": st.column_config.ProgressColumn(
                "CSAT", format="percent", min_value=0, max_value=1
            ),
            "reassignment_count": st.column_config.NumberColumn("Reassignments"),
        },
    )
    rows = picked.selection.rows if picked else []
    if rows:
        agent = agents.iloc[rows[0]]
        ui.tickets(
            queries.drill(
                "resolved",
                chosen,
                period=period,
                extra={"agent": int(agent["agent_id"])},
                description=f"by {agent['agent_name']}",
            ),
            key="teams_agent_tickets",
        )
    else:
        st.caption("Select an agent's row to list the incidents they resolved in the period.")

ui.ticket_explorer(
    "teams",
    chosen,
    {
        "Incidents resolved": lambda day: queries.drill("resolved", chosen, period=day),
        "Incidents reassigned": lambda day: queries.drill("reassigned", chosen, period=day),
    },
)
