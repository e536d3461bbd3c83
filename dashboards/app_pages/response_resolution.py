"""Response and resolution: MTTA and MTTR over time, and their spread by priority, team and
category (median, 90th percentile and mean, as the marts compute them)."""

import streamlit as st

from dashboards import charts, filters, queries, ui

TOP = 20
METRICS = {
    "mttr": {
        "title": "Time to resolve",
        "mart": "mttr_per_period",
        "population": "resolved",
        "count": "resolved_count",
        "calendar": ("mttr_hours", "mttr_median_hours", "mttr_p90_hours"),
        "business": (
            "mttr_business_hours",
            "mttr_median_business_hours",
            "mttr_p90_business_hours",
        ),
    },
    "mtta": {
        "title": "Time to acknowledge",
        "mart": "mtta_per_period",
        "population": "acknowledged",
        "count": "acknowledged_count",
        "calendar": ("mtta_hours", "mtta_median_hours", "mtta_p90_hours"),
        "business": (
            "mtta_business_hours",
            "mtta_median_business_hours",
            "mtta_p90_business_hours",
        ),
    },
}
DIMENSIONS = {"priority": "Priority", "team": "Team", "category": "Category"}

chosen = filters.current()
ui.page_header(
    "Response and resolution",
    chosen,
    caption="MTTA: opening to first acknowledgement (assignment to a person, In Progress, or an "
    "agent's public comment). MTTR: opening to the last resolution; cancelled incidents excluded.",
)

clock = st.segmented_control(
    "Clock",
    ["calendar", "business"],
    format_func={"calendar": "Calendar hours", "business": "Business hours"}.get,
    default="calendar",
    key="rr_clock",
    help="Business hours come from the SLA timers (the SLA calendar's working time): the "
    "response timer for MTTA, the resolution timer for MTTR. Incidents without an SLA have none.",
)
clock = clock or "calendar"


def _columns(key: str) -> tuple[str, str, str]:
    return METRICS[key][clock]


left, right = st.columns(2)
for column, key in ((left, "mtta"), (right, "mttr")):
    metric = METRICS[key]
    mean, median, p90 = _columns(key)
    with column:
        st.subheader(f"{metric['title']} over time")
        frame = queries.trend(metric["mart"], chosen)
        if frame.empty or frame[mean].isna().all():
            ui.empty()
            continue
        ui.chart(
            charts.hours_trend(
                frame,
                measures={mean: "Mean", median: "Median", p90: "90th percentile"},
                grain=chosen.grain,
                title=metric["title"] + (", business" if clock == "business" else ""),
                tooltip_extra=[
                    charts.alt.Tooltip(f"{metric['count']}:Q", title="Incidents", format=",")
                ],
            ),
            key=f"rr_{key}_trend",
            drill=lambda point, population=metric["population"]: queries.drill(
                population, chosen, period=ui.picked_period(point)
            ),
        )

st.subheader("Spread by priority, team and category")
controls = st.columns([1, 1, 1])
which = controls[0].segmented_control(
    "Measure",
    list(METRICS),
    format_func=lambda key: METRICS[key]["title"],
    default="mttr",
    key="rr_spread_metric",
)
which = which or "mttr"
dimension = controls[1].segmented_control(
    "By", list(DIMENSIONS), format_func=DIMENSIONS.get, default="priority", key="rr_spread_by"
)
dimension = dimension or "priority"
with controls[2]:
    period = ui.breakdown_period(chosen, key="rr_spread_period")

metric = METRICS[which]
mean, median, p90 = _columns(which)
spread = queries.by_dimension(metric["mart"], chosen, dimension, period=period)
spread = spread[(spread["period_start"].dt.date == period) & spread[median].notna()]
if spread.empty:
    ui.empty()
else:
    spread = spread.sort_values(p90, ascending=False)
    if dimension == "priority":
        spread = spread.sort_values("slice_value")
    ui.chart(
        charts.quantile_ranges(
            spread.head(TOP),
            category="slice_value",
            category_title=DIMENSIONS[dimension],
            median=median,
            p90=p90,
            mean=mean,
            title=metric["title"] + (", business" if clock == "business" else ""),
        ),
        key="rr_spread",
        drill=lambda point: queries.drill(
            metric["population"],
            chosen,
            period=period,
            extra={dimension: str(point["slice_value"])},
        ),
    )
    st.caption(
        "Bar: median to 90th percentile; tick: median; diamond: mean. "
        + (
            f"The {TOP} {DIMENSIONS[dimension].lower()} values with the slowest tail."
            if len(spread) > TOP
            else ""
        )
    )
    if chosen.chosen and chosen.value(dimension) is None:
        ui.not_sliced_note(dimension, chosen)

ui.ticket_explorer(
    "rr",
    chosen,
    {
        "Incidents resolved": lambda day: queries.drill("resolved", chosen, period=day),
        "Incidents acknowledged": lambda day: queries.drill("acknowledged", chosen, period=day),
        "Incidents reopened": lambda day: queries.drill("reopened", chosen, period=day),
    },
)
