"""Problems and knowledge: problems opened, resolved and open, time to root cause and to fix,
incidents linked to problems and seen with a known error, recurrence after a fix, and the
knowledge base at work (resolutions with an article, ratings, articles out of date or unused),
with drill-down to the problems, their incidents and the articles."""

import streamlit as st

from dashboards import charts, filters, queries, ui

chosen = filters.current()
ui.page_header(
    "Problems and knowledge",
    chosen,
    caption="Problems by the day they were opened and resolved; incidents by the day they were "
    "opened (with a known error: their problem's workaround was published by then; recurrence: "
    "opened after their problem was resolved); knowledge by the day incidents were resolved.",
)
if chosen.value("priority") is not None:
    st.caption("Problem and knowledge figures are not sliced by priority.")
rollup = queries.problems.rollup

flows = rollup("problems_per_period", chosen)
times = rollup("problem_fix_times_per_period", chosen)
left, right = st.columns(2)
with left:
    st.subheader("Problems opened, resolved and open")
    if flows.empty:
        ui.empty()
    else:
        long = flows.melt(
            id_vars=["period_start"],
            value_vars=["opened_count", "resolved_count", "open_at_end_count"],
            var_name="figure",
            value_name="problems",
        ).replace(
            {
                "opened_count": "Opened",
                "resolved_count": "Resolved",
                "open_at_end_count": "Open at end",
            }
        )
        ui.chart(
            charts.count_trend(
                long,
                value="problems",
                grain=chosen.grain,
                title="Problems",
                series="figure",
                series_title="Figure",
                stacked=False,
                order=["Opened", "Resolved", "Open at end"],
            ),
            key="problems_flows",
        )
with right:
    st.subheader("Time to root cause and to fix")
    if times.empty:
        ui.empty()
    else:
        medians = times.pivot_table(
            index="period_start", columns="measure", values="median_hours"
        ).reset_index()
        measures = {
            name: label
            for name, label in (
                ("time_to_root_cause", "Root cause (median)"),
                ("time_to_fix", "Fix (median)"),
            )
            if name in medians.columns
        }
        ui.chart(
            charts.hours_trend(medians, measures=measures, grain=chosen.grain, title="Median"),
            key="problems_times",
        )
        st.dataframe(
            times,
            hide_index=True,
            width="stretch",
            column_config={
                "period_start": st.column_config.DateColumn("Period"),
                "measure": st.column_config.TextColumn("Measure"),
                "problem_count": st.column_config.NumberColumn("Problems"),
                "mean_hours": st.column_config.NumberColumn("Mean (h)", format="%.1f"),
                "median_hours": st.column_config.NumberColumn("Median (h)", format="%.1f"),
                "p90_hours": st.column_config.NumberColumn("90th percentile (h)", format="%.1f"),
            },
        )

linked = rollup("problem_incidents_per_period", chosen)
knowledge = rollup("knowledge_use_per_period", chosen)
left, right = st.columns(2)
with left:
    st.subheader("Incidents with a known error at hand")
    if linked.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                linked,
                value="known_error_share",
                grain=chosen.grain,
                title="With a known error",
                tooltip_extra=[
                    charts.alt.Tooltip("opened_count:Q", title="Opened", format=","),
                    charts.alt.Tooltip("linked_count:Q", title="Linked to a problem", format=","),
                    charts.alt.Tooltip("linked_share:Q", title="Linked share", format=".1%"),
                    charts.alt.Tooltip("recurrence_count:Q", title="Recurred after a fix"),
                ],
            ),
            key="problems_known_errors",
        )
with right:
    st.subheader("Resolved with a knowledge article")
    if knowledge.empty:
        ui.empty()
    else:
        ui.chart(
            charts.rate_trend(
                knowledge,
                value="with_article_share",
                grain=chosen.grain,
                title="Resolved with an article",
                tooltip_extra=[
                    charts.alt.Tooltip("resolved_count:Q", title="Resolved", format=","),
                    charts.alt.Tooltip(
                        "with_article_median_hours:Q", title="Median h, with", format=",.1f"
                    ),
                    charts.alt.Tooltip(
                        "without_article_median_hours:Q", title="Median h, without", format=",.1f"
                    ),
                ],
            ),
            key="knowledge_share",
        )
        ui.chart(
            charts.hours_trend(
                knowledge,
                measures={
                    "with_article_mean_hours": "With an article (mean)",
                    "without_article_mean_hours": "Without (mean)",
                },
                grain=chosen.grain,
                title="Time to resolve",
            ),
            key="knowledge_times",
        )

st.subheader("Problems")
found = queries.problems.problems(chosen)
if found.empty:
    ui.empty("No problem was open, opened or resolved in the date range.")
else:
    table = st.dataframe(
        found.drop(columns=["problem_id"]),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="problems_table",
        column_config={
            "problem_number": st.column_config.TextColumn("Problem"),
            "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
            "title": st.column_config.TextColumn("Title", width="medium"),
            "state": st.column_config.TextColumn("State"),
            "priority_label": st.column_config.TextColumn("Priority"),
            "team_name": st.column_config.TextColumn("Team"),
            "service_name": st.column_config.TextColumn("Service"),
            "category": st.column_config.TextColumn("Category"),
            "root_cause_category": st.column_config.TextColumn("Cause"),
            "is_known_error": st.column_config.CheckboxColumn("Known error"),
            "opened_at": st.column_config.DatetimeColumn("Opened", format=queries.DATETIME_FORMAT),
            "resolved_at": st.column_config.DatetimeColumn(
                "Resolved", format=queries.DATETIME_FORMAT
            ),
            "hours_to_root_cause": st.column_config.NumberColumn(
                "To root cause (h)", format="%.1f"
            ),
            "hours_to_fix": st.column_config.NumberColumn("To fix (h)", format="%.1f"),
            "linked_incident_count": st.column_config.NumberColumn("Incidents"),
            "open_linked_incident_count": st.column_config.NumberColumn("Still open"),
            "known_error_incident_count": st.column_config.NumberColumn("With known error"),
            "recurrence_count": st.column_config.NumberColumn("Recurred"),
        },
    )
    rows = table.selection.rows if table is not None else []
    numbers = list(found["problem_number"])
    picked = st.selectbox(
        "Incidents behind a problem",
        numbers,
        index=rows[0] if rows else 0,
        key="problems_pick",
    )
    incidents = queries.problems.problem_incidents(
        int(found.loc[found["problem_number"] == picked, "problem_id"].iloc[0])
    )
    if incidents.empty:
        ui.empty(f"No incident is linked to {picked}.")
    else:
        st.dataframe(
            incidents.drop(columns=["incident_id"]),
            hide_index=True,
            width="stretch",
            key="problem_incidents_table",
            column_config={
                "incident_number": st.column_config.TextColumn("Ticket"),
                "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
                "title": st.column_config.TextColumn("Title", width="medium"),
                "opened_at": st.column_config.DatetimeColumn(
                    "Opened", format=queries.DATETIME_FORMAT
                ),
                "state": st.column_config.TextColumn("State"),
                "had_known_error_at_open": st.column_config.CheckboxColumn("Known error then"),
                "is_recurrence": st.column_config.CheckboxColumn("After the fix"),
                "service_name": st.column_config.TextColumn("Service"),
                "category": st.column_config.TextColumn("Category"),
                "configuration_item": st.column_config.TextColumn("CI"),
            },
        )

st.subheader("Knowledge articles")
lists = {
    "Most used": "most_used",
    "Out of date (review period passed)": "out_of_date",
    "Never used": "never_used",
    "Least helpful": "least_helpful",
}
which = st.radio("List", list(lists), horizontal=True, key="articles_list")
articles = queries.problems.articles(lists[which], chosen)
if articles.empty:
    ui.empty("No article in this list.")
else:
    st.dataframe(
        articles.drop(columns=["article_id"]),
        hide_index=True,
        width="stretch",
        key="articles_table",
        column_config={
            "article_number": st.column_config.TextColumn("Article"),
            "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
            "title": st.column_config.TextColumn("Title", width="medium"),
            "category": st.column_config.TextColumn("Category"),
            "service_name": st.column_config.TextColumn("Service"),
            "audience": st.column_config.TextColumn("Audience"),
            "language": st.column_config.TextColumn("Language"),
            "current_version": st.column_config.NumberColumn("Version"),
            "last_published_at": st.column_config.DatetimeColumn(
                "Published", format=queries.DATETIME_FORMAT
            ),
            "review_due_at": st.column_config.DatetimeColumn(
                "Review due", format=queries.DATETIME_FORMAT
            ),
            "use_count": st.column_config.NumberColumn("Used"),
            "resolution_count": st.column_config.NumberColumn("Resolved with"),
            "helpful_count": st.column_config.NumberColumn("Helpful"),
            "not_helpful_count": st.column_config.NumberColumn("Not helpful"),
            "helpful_ratio": st.column_config.ProgressColumn(
                "Helpful share", format="percent", min_value=0, max_value=1
            ),
        },
    )
