"""Pure Altair chart builders: a DataFrame in, a chart out. No queries, no Streamlit.

Colours are the Okabe-Ito palette, which stays distinguishable with the common colour-vision
deficiencies; marks also differ by shape or position, never by colour alone where it matters.
Durations are in hours and rates in percent, and each axis title says so.

Charts that lead to tickets carry a point selection named ``pick``: the page reads the clicked
point (``on_select="rerun"``) and lists the tickets behind it.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

OKABE_ITO = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]
GOOD = "#009E73"
BAD = "#D55E00"
NEUTRAL = "#0072B2"
PICK = "pick"
HEIGHT = 260


def _period_axis(frame: pd.DataFrame, grain: str, title: str | None = None) -> alt.X:
    """One ordinal position per period, labelled in the period's own terms. Ordinal, not a time
    scale: periods are calendar dates of the marts (UTC), and a browser in another time zone
    would otherwise shift them across midnight."""
    titles = {"day": "Day", "week": "Week starting", "month": "Month"}
    order = list(dict.fromkeys(frame.sort_values("period_start")["period_axis"]))
    return alt.X(
        "period_axis:O",
        title=title or titles.get(grain, "Period"),
        sort=order,
        axis=alt.Axis(labelAngle=-30, labelOverlap=True),
    )


def _period_tooltip() -> alt.Tooltip:
    return alt.Tooltip("period:N", title="Period")


def with_period_labels(frame: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Adds ``period`` (its name, for tooltips) and ``period_axis`` (its axis label), and makes
    ``period_start`` an ISO date string, which is what a clicked point hands back."""
    starts = pd.to_datetime(frame["period_start"])
    many_years = starts.dt.year.nunique() > 1
    if grain == "month":
        labels = starts.dt.strftime("%B %Y")
        axis = starts.dt.strftime("%b %Y")
    elif grain == "week":
        labels = "week of " + starts.dt.strftime("%d %b %Y")
        axis = starts.dt.strftime("%d %b %y" if many_years else "%d %b")
    else:
        labels = starts.dt.strftime("%a %d %b %Y")
        axis = starts.dt.strftime("%d %b %y" if many_years else "%d %b")
    return frame.assign(
        period=labels, period_axis=axis, period_start=starts.dt.strftime("%Y-%m-%d")
    )


def _sized(chart: alt.TopLevelMixin, height: int) -> alt.TopLevelMixin:
    """Fill the container's width; ``height`` is the plot's own height (Streamlit's default
    autosize 'fit' would squeeze axes and legends into it)."""
    return chart.properties(
        height=height, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
    )


def _series_color(field: str, title: str) -> alt.Color:
    return alt.Color(f"{field}:N", title=title, scale=alt.Scale(range=OKABE_ITO))


def _pick(fields: list[str]) -> alt.Parameter:
    return alt.selection_point(name=PICK, fields=fields, on="click", clear="dblclick")


def rate_trend(
    frame: pd.DataFrame,
    *,
    value: str,
    grain: str,
    title: str,
    series: str | None = None,
    series_title: str = "",
    tooltip_extra: list[alt.Tooltip] | None = None,
) -> alt.Chart:
    """A share (0..1) per period, as a line with points, on a 0 to 100 % axis."""
    fields = ["period_start", *([series] if series else [])]
    pick = _pick(fields)
    tooltips = [
        _period_tooltip(),
        *([alt.Tooltip(f"{series}:N", title=series_title)] if series else []),
        alt.Tooltip(f"{value}:Q", title=title, format=".1%"),
        *(tooltip_extra or []),
    ]
    frame = with_period_labels(frame, grain)
    encoding = {
        "x": _period_axis(frame, grain),
        "y": alt.Y(
            f"{value}:Q",
            title=f"{title} (%)",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%"),
        ),
        "tooltip": tooltips,
    }
    if series:
        encoding["color"] = _series_color(series, series_title)
        encoding["shape"] = alt.Shape(f"{series}:N", title=series_title)
    else:
        encoding["color"] = alt.value(NEUTRAL)
    base = alt.Chart(frame).encode(**encoding)
    line = base.mark_line(strokeWidth=2)
    points = (
        base.mark_point(size=70, filled=True)
        .encode(opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)))
        .add_params(pick)
    )
    return _sized(line + points, HEIGHT)


def rate_heatmap(
    frame: pd.DataFrame,
    *,
    value: str,
    grain: str,
    title: str,
    series: str,
    series_title: str,
    count: str | None = None,
    count_title: str = "",
) -> alt.Chart:
    """A share per period and series as a grid of cells (viridis, readable in grey too): many
    series over many periods stay legible where lines would tangle."""
    pick = _pick(["period_start", series])
    frame = with_period_labels(frame, grain)
    tooltips = [
        _period_tooltip(),
        alt.Tooltip(f"{series}:N", title=series_title),
        alt.Tooltip(f"{value}:Q", title=title, format=".1%"),
    ]
    if count:
        tooltips.append(alt.Tooltip(f"{count}:Q", title=count_title, format=","))
    chart = (
        alt.Chart(frame)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=_period_axis(frame, grain),
            y=alt.Y(f"{series}:N", title=series_title),
            color=alt.Color(
                f"{value}:Q",
                title=f"{title} (%)",
                scale=alt.Scale(scheme="viridis", domain=[0, 1]),
                legend=alt.Legend(format="%"),
            ),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
            tooltip=tooltips,
        )
        .add_params(pick)
    )
    return _sized(chart, max(120, 26 * frame[series].nunique()))


def hours_trend(
    frame: pd.DataFrame,
    *,
    measures: dict[str, str],
    grain: str,
    title: str = "Hours",
    tooltip_extra: list[alt.Tooltip] | None = None,
) -> alt.Chart:
    """Several durations (columns in hours) per period, one line each (e.g. mean, median, p90)."""
    long = frame.melt(
        id_vars=[column for column in frame.columns if column not in measures],
        value_vars=list(measures),
        var_name="measure_key",
        value_name="hours",
    )
    long["measure"] = long["measure_key"].map(measures)
    long = with_period_labels(long, grain)
    order = list(measures.values())
    pick = _pick(["period_start"])
    base = alt.Chart(long).encode(
        x=_period_axis(long, grain),
        y=alt.Y("hours:Q", title=f"{title} (hours)"),
        color=alt.Color(
            "measure:N", title="Measure", sort=order, scale=alt.Scale(domain=order, range=OKABE_ITO)
        ),
        strokeDash=alt.StrokeDash("measure:N", title="Measure", sort=order),
        tooltip=[
            _period_tooltip(),
            alt.Tooltip("measure:N", title="Measure"),
            alt.Tooltip("hours:Q", title="Hours", format=",.1f"),
            *(tooltip_extra or []),
        ],
    )
    points = (
        base.mark_point(size=60, filled=True)
        .encode(
            shape=alt.Shape("measure:N", title="Measure", sort=order),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        )
        .add_params(pick)
    )
    return _sized(base.mark_line(strokeWidth=2) + points, HEIGHT)


def count_trend(
    frame: pd.DataFrame,
    *,
    value: str,
    grain: str,
    title: str,
    series: str | None = None,
    series_title: str = "",
    stacked: bool = True,
    order: list[str] | None = None,
) -> alt.Chart:
    """Counts per period as bars (stacked by ``series`` when given, in ``order``)."""
    fields = ["period_start", *([series] if series else [])]
    pick = _pick(fields)
    frame = with_period_labels(frame, grain)
    encoding = {
        "x": _period_axis(frame, grain),
        "y": alt.Y(f"{value}:Q", title=title, stack="zero" if stacked else None),
        "tooltip": [
            _period_tooltip(),
            *([alt.Tooltip(f"{series}:N", title=series_title)] if series else []),
            alt.Tooltip(f"{value}:Q", title=title, format=","),
        ],
        "opacity": alt.condition(pick, alt.value(1.0), alt.value(0.45)),
    }
    if series:
        encoding["color"] = alt.Color(
            f"{series}:N",
            title=series_title,
            sort=order,
            scale=alt.Scale(domain=order, range=OKABE_ITO) if order else alt.Scale(range=OKABE_ITO),
        )
        if order:
            encoding["order"] = alt.Order("series_rank:Q")
            frame = frame.assign(series_rank=frame[series].map({v: i for i, v in enumerate(order)}))
    else:
        encoding["color"] = alt.value(NEUTRAL)
    chart = alt.Chart(frame).mark_bar().encode(**encoding)
    return _sized(chart.add_params(pick), HEIGHT)


def stacked_team_bars(
    frame: pd.DataFrame,
    *,
    team: str,
    value: str,
    bucket: str,
    team_order: list[str],
    bucket_order: list[str],
) -> alt.Chart:
    """Horizontal bars per team, stacked by age bucket (youngest first)."""
    pick = _pick([team])
    ranked = frame.assign(bucket_rank=frame[bucket].map({v: i for i, v in enumerate(bucket_order)}))
    chart = (
        alt.Chart(ranked)
        .mark_bar()
        .encode(
            x=alt.X(f"{value}:Q", title="Open incidents", stack="zero"),
            y=alt.Y(f"{team}:N", title="Team", sort=team_order),
            color=alt.Color(
                f"{bucket}:N",
                title="Age",
                sort=bucket_order,
                scale=alt.Scale(domain=bucket_order, range=OKABE_ITO),
            ),
            order=alt.Order("bucket_rank:Q"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
            tooltip=[
                alt.Tooltip(f"{team}:N", title="Team"),
                alt.Tooltip(f"{bucket}:N", title="Age"),
                alt.Tooltip(f"{value}:Q", title="Open incidents", format=","),
            ],
        )
        .add_params(pick)
    )
    return _sized(chart, max(140, 26 * max(len(team_order), 1)))


def ranked_bars(
    frame: pd.DataFrame,
    *,
    category: str,
    value: str,
    category_title: str,
    value_title: str,
    percent: bool = False,
    hours: bool = False,
    ascending: bool = False,
) -> alt.Chart:
    """One horizontal bar per category, longest first (shortest first when ``ascending``)."""
    pick = _pick([category])
    value_format = ".1%" if percent else (",.1f" if hours else ",")
    unit = " (%)" if percent else (" (hours)" if hours else "")
    axis_title = f"{value_title}{unit}"
    x = alt.X(
        f"{value}:Q",
        title=axis_title,
        axis=alt.Axis(format="%") if percent else alt.Axis(),
        scale=alt.Scale(domain=[0, 1]) if percent else alt.Scale(),
    )
    chart = (
        alt.Chart(frame)
        .mark_bar(color=NEUTRAL)
        .encode(
            x=x,
            y=alt.Y(f"{category}:N", title=category_title, sort="x" if ascending else "-x"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
            tooltip=[
                alt.Tooltip(f"{category}:N", title=category_title),
                alt.Tooltip(f"{value}:Q", title=value_title, format=value_format),
            ],
        )
        .add_params(pick)
    )
    return _sized(chart, max(120, 28 * max(len(frame), 1)))


def quantile_ranges(
    frame: pd.DataFrame,
    *,
    category: str,
    category_title: str,
    median: str,
    p90: str,
    mean: str,
    title: str,
) -> alt.Chart:
    """Distribution per category from the mart's own figures: a bar from median to p90 (the slow
    tail), a tick at the median and a diamond at the mean. Nothing is recomputed here."""
    pick = _pick([category])
    y = alt.Y(f"{category}:N", title=category_title)
    tooltips = [
        alt.Tooltip(f"{category}:N", title=category_title),
        alt.Tooltip(f"{median}:Q", title="Median (h)", format=",.1f"),
        alt.Tooltip(f"{p90}:Q", title="90th percentile (h)", format=",.1f"),
        alt.Tooltip(f"{mean}:Q", title="Mean (h)", format=",.1f"),
    ]
    base = alt.Chart(frame).encode(y=y, tooltip=tooltips)
    tail = (
        base.mark_bar(color=OKABE_ITO[5], height=14)
        .encode(
            x=alt.X(f"{median}:Q", title=f"{title} (hours)"),
            x2=alt.X2(f"{p90}:Q"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        )
        .add_params(pick)
    )
    median_tick = base.mark_tick(color=OKABE_ITO[0], thickness=3, size=22).encode(x=f"{median}:Q")
    mean_point = base.mark_point(shape="diamond", color=OKABE_ITO[3], size=90, filled=True).encode(
        x=f"{mean}:Q"
    )
    return _sized(tail + median_tick + mean_point, max(120, 32 * max(len(frame), 1)))


def histogram(
    frame: pd.DataFrame,
    *,
    bucket: str,
    count: str,
    bucket_title: str,
    order: list[str],
    series: str | None = None,
    series_title: str = "",
) -> alt.Chart:
    """Counts per labelled bucket, in the mart's bucket order (stacked by ``series``)."""
    fields = [bucket, *([series] if series else [])]
    pick = _pick(fields)
    encoding = {
        "x": alt.X(f"{bucket}:N", title=bucket_title, sort=order, axis=alt.Axis(labelAngle=0)),
        "y": alt.Y(f"{count}:Q", title="Incidents"),
        "tooltip": [
            alt.Tooltip(f"{bucket}:N", title=bucket_title),
            *([alt.Tooltip(f"{series}:N", title=series_title)] if series else []),
            alt.Tooltip(f"{count}:Q", title="Incidents", format=","),
        ],
        "opacity": alt.condition(pick, alt.value(1.0), alt.value(0.45)),
    }
    encoding["color"] = _series_color(series, series_title) if series else alt.value(NEUTRAL)
    return _sized(alt.Chart(frame).mark_bar().encode(**encoding).add_params(pick), HEIGHT)


def calendar(
    frame: pd.DataFrame,
    *,
    label: str,
    start: str,
    end: str,
    color: str,
    color_title: str,
    tooltip_fields: list[tuple[str, str]],
) -> alt.Chart:
    """A Gantt-style calendar: one row per item, a bar from start to end."""
    pick = _pick([label])
    chart = (
        alt.Chart(frame)
        .mark_bar(height=12, cornerRadius=2)
        .encode(
            x=alt.X(f"{start}:T", title="Planned window", axis=alt.Axis(format="%d %b")),
            x2=alt.X2(f"{end}:T"),
            y=alt.Y(f"{label}:N", title="", sort=alt.EncodingSortField(start, order="ascending")),
            color=_series_color(color, color_title),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
            tooltip=[alt.Tooltip(f"{field}", title=title) for field, title in tooltip_fields],
        )
        .add_params(pick)
    )
    return _sized(chart, max(140, 22 * max(len(frame), 1)))


def picked(event: object) -> dict[str, object] | None:
    """The first point picked in a chart (``st.altair_chart(..., on_select="rerun")``)."""
    if not event:
        return None
    selection = getattr(event, "selection", None) or (
        event.get("selection") if isinstance(event, dict) else None
    )
    if not selection:
        return None
    points = selection.get(PICK) if isinstance(selection, dict) else getattr(selection, PICK, None)
    if not points:
        return None
    return dict(points[0])
