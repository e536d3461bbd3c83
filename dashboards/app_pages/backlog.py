"""Backlog and aging: open incidents at the end of each period, by age bucket and by team."""

import streamlit as st

from dashboards import charts, filters, queries, ui

MART = "backlog_per_period"
TOP_TEAMS = 20

chosen = filters.current()
ui.page_header(
    "Backlog and aging",
    chosen,
    caption="Incidents open (new, assigned, in progress or on hold) at the end of each period, "
    "or at the last build for the current one. Age: time since the incident was first opened.",
)

backlog = queries.trend(MART, chosen)
total = backlog[backlog["age_bucket"] == "all"]
buckets = backlog[backlog["age_bucket"] != "all"].sort_values(["period_start", "bucket_order"])
bucket_order = list(dict.fromkeys(buckets.sort_values("bucket_order")["age_bucket"]))


def snapshot_of(frame, period):
    """The day whose end a period's backlog was taken at (the mart's snapshot_date)."""
    rows = frame[frame["period_start"].dt.date == period]
    return rows["snapshot_date"].iloc[0].date() if len(rows) else None


def backlog_tickets(period, extra=None, description=""):
    day = snapshot_of(backlog, period)
    if day is None:
        return None
    return queries.drill("open_at", chosen, as_of=day, extra=extra, description=description)


left, right = st.columns(2)
with left:
    st.subheader("Open incidents")
    if total.empty:
        ui.empty()
    else:
        ui.chart(
            charts.count_trend(
                total, value="open_count", grain=chosen.grain, title="Open incidents"
            ),
            key="backlog_total",
            drill=lambda point: backlog_tickets(ui.picked_period(point)),
        )
with right:
    st.subheader("By age")
    if buckets.empty:
        ui.empty()
    else:
        ui.chart(
            charts.count_trend(
                buckets,
                value="open_count",
                grain=chosen.grain,
                title="Open incidents",
                series="age_bucket",
                series_title="Age",
                order=bucket_order,
            ),
            key="backlog_age",
            drill=lambda point: backlog_tickets(
                ui.picked_period(point), description="all ages; first opened is the age's start"
            ),
        )

st.subheader("By team")
last = ui.breakdown_period(chosen, key="backlog_team_period")
at_end = queries.by_dimension(MART, chosen, "team", period=last)
at_end = at_end[(at_end["period_start"].dt.date == last) & (at_end["open_count"] > 0)]
by_team = at_end[at_end["age_bucket"] != "all"]
if by_team.empty:
    ui.empty("No open incidents at the end of that period for these filters.")
else:
    team_totals = at_end[at_end["age_bucket"] == "all"].sort_values("open_count", ascending=False)
    biggest = team_totals.head(TOP_TEAMS)["slice_value"].tolist()
    shown = by_team[by_team["slice_value"].isin(biggest)]
    ui.chart(
        charts.stacked_team_bars(
            shown,
            team="slice_value",
            value="open_count",
            bucket="age_bucket",
            team_order=biggest,
            bucket_order=bucket_order,
        ),
        key="backlog_team",
        drill=lambda point: queries.drill(
            "open_at",
            chosen,
            as_of=snapshot_of(at_end, last),
            extra={"team": str(point["slice_value"])},
        ),
    )
    st.caption(
        f"The {len(biggest)} teams with the largest backlog at the end of "
        f"{ui.period_label(last, chosen.grain)}."
    )
    if chosen.chosen and chosen.value("team") is None:
        ui.not_sliced_note("team", chosen)

st.subheader("Open now")
ui.tickets(queries.drill("open_now", chosen), key="backlog_open_now")
