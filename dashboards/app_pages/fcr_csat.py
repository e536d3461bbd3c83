"""FCR and CSAT: trends, by team and by channel, and the latest CSAT comments."""

import streamlit as st

from dashboards import charts, filters, queries, ui

TOP_TEAMS = 15
FCR = "fcr_per_period"
CSAT = "csat_per_period"

chosen = filters.current()
ui.page_header(
    "FCR and CSAT",
    chosen,
    caption="FCR: share of resolved incidents never reassigned, never reopened and never waiting "
    "on the caller. CSAT: share of survey answers rated 4 or 5.",
)

left, right = st.columns(2)
with left:
    st.subheader("First-contact resolution")
    fcr = queries.trend(FCR, chosen)
    if fcr.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                fcr,
                value="fcr_rate",
                grain=chosen.grain,
                title="FCR",
                tooltip_extra=[
                    charts.alt.Tooltip("resolved_count:Q", title="Resolved", format=","),
                    charts.alt.Tooltip(
                        "first_contact_resolved_count:Q", title="At first contact", format=","
                    ),
                ],
            ),
            key="fcr_trend",
            drill=lambda point: queries.drill(
                "resolved_not_fcr", chosen, period=ui.picked_period(point)
            ),
        )
with right:
    st.subheader("Customer satisfaction")
    csat = queries.trend(CSAT, chosen)
    if csat.empty or csat["csat_rate"].isna().all():
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                csat,
                value="csat_rate",
                grain=chosen.grain,
                title="CSAT",
                tooltip_extra=[
                    charts.alt.Tooltip("answer_count:Q", title="Answers", format=","),
                    charts.alt.Tooltip("mean_rating:Q", title="Mean rating", format=".2f"),
                    charts.alt.Tooltip("response_rate:Q", title="Response rate", format=".1%"),
                ],
            ),
            key="csat_trend",
            drill=lambda point: queries.drill(
                "csat_answered", chosen, period=ui.picked_period(point)
            ),
        )

st.subheader("By channel")
left, right = st.columns(2)
with left:
    fcr_channel = queries.by_dimension(FCR, chosen, "channel")
    if fcr_channel.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_heatmap(
                fcr_channel,
                value="fcr_rate",
                grain=chosen.grain,
                title="FCR",
                series="slice_value",
                series_title="Channel",
                count="resolved_count",
                count_title="Resolved",
            ),
            key="fcr_channel",
            drill=lambda point: queries.drill(
                "resolved_not_fcr",
                chosen,
                period=ui.picked_period(point),
                extra={"channel": str(point["slice_value"])},
            ),
        )
with right:
    csat_channel = queries.by_dimension(CSAT, chosen, "channel")
    csat_channel = csat_channel[csat_channel["csat_rate"].notna()]
    if csat_channel.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_heatmap(
                csat_channel,
                value="csat_rate",
                grain=chosen.grain,
                title="CSAT",
                series="slice_value",
                series_title="Channel",
                count="answer_count",
                count_title="Answers",
            ),
            key="csat_channel",
            drill=lambda point: queries.drill(
                "csat_answered",
                chosen,
                period=ui.picked_period(point),
                extra={"channel": str(point["slice_value"])},
            ),
        )
if chosen.chosen:
    ui.not_sliced_note("channel", chosen)

st.subheader("By team")
period = ui.breakdown_period(chosen, key="fcr_team_period")
left, right = st.columns(2)
for column, mart, value, title, population in (
    (left, FCR, "fcr_rate", "FCR", "resolved_not_fcr"),
    (right, CSAT, "csat_rate", "CSAT", "csat_answered"),
):
    with column:
        by_team = queries.by_dimension(mart, chosen, "team", period=period)
        by_team = by_team[(by_team["period_start"].dt.date == period) & by_team[value].notna()]
        if by_team.empty:
            ui.empty()
            continue
        lowest = by_team.sort_values(value).head(TOP_TEAMS)
        ui.chart(
            charts.ranked_bars(
                lowest,
                category="slice_value",
                value=value,
                category_title="Team",
                value_title=title,
                percent=True,
                ascending=True,
            ),
            key=f"{value}_team",
            drill=lambda point, population=population: queries.drill(
                population, chosen, period=period, extra={"team": str(point["slice_value"])}
            ),
        )
        st.caption(
            f"The {len(lowest)} teams with the lowest {title} in "
            f"{ui.period_label(period, chosen.grain)}."
        )

st.subheader("CSAT comments, newest first")
comments = queries.csat_comments(chosen, limit=100)
if comments is None:
    st.warning(
        "Survey comments are not in the marts yet: they need a mart of survey answers with "
        "their comments (`fct_csat_answers`, see docs/dashboards.md).",
        icon=":material/warning:",
    )
elif comments.empty:
    ui.empty("No survey comments for these filters.")
else:
    st.dataframe(
        comments.drop(columns=["incident_id"]),
        hide_index=True,
        width="stretch",
        column_config={
            **ui.INCIDENT_LIST_COLUMNS,
            "answered_at": st.column_config.DatetimeColumn(
                "Answered", format=queries.DATETIME_FORMAT
            ),
            "rating": st.column_config.NumberColumn("Rating", format="%d ★"),
            "comment": st.column_config.TextColumn("Comment", width="large"),
        },
    )

ui.ticket_explorer(
    "fcr",
    chosen,
    {
        "Resolved, not at first contact": lambda day: queries.drill(
            "resolved_not_fcr", chosen, period=day
        ),
        "Resolved at first contact": lambda day: queries.drill("resolved_fcr", chosen, period=day),
        "Survey answers": lambda day: queries.drill("csat_answered", chosen, period=day),
        "Survey answers rated 1 to 3": lambda day: queries.drill(
            "csat_unsatisfied", chosen, period=day
        ),
    },
)
