"""Pieces every page shares: freshness line, empty states, KPI cards, drillable charts and the
ticket list behind any number (rows of ``fct_incidents``, CSV download, links to the API)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import auth, charts, queries
from dashboards.filters import DIMENSION_LABELS, Filters
from dashboards.plain import plain

NO_DATA = "No data for these filters."
SHOWN_TICKETS = 500


def page_header(title: str, filters: Filters, *, caption: str | None = None) -> None:
    st.title(title)
    if caption:
        st.caption(caption)
    freshness()
    if filters.unsliced_dimensions:
        by, value = filters.slice
        ignored = ", ".join(
            f"{DIMENSION_LABELS[name]} = {plain(filters.chosen[name])}"
            for name in filters.unsliced_dimensions
        )
        st.info(
            f"The metric marts are cut by one dimension at a time: charts and KPIs show "
            f"{DIMENSION_LABELS[by]} = {plain(value)}. {ignored} applies to the ticket lists only.",
            icon=":material/info:",
        )


def freshness() -> None:
    """How fresh the marts are: when dbt last built them and the newest event they include."""
    fresh = queries.freshness()
    if fresh.built_at is None:
        st.warning(
            "The marts have not been built yet: run `itsm pipelines run`.",
            icon=":material/warning:",
        )
        return
    parts = [f"Marts built {fresh.built_at:%Y-%m-%d %H:%M} UTC"]
    if fresh.data_until is not None:
        parts.append(f"data as of {fresh.data_until:%Y-%m-%d %H:%M} UTC")
    st.caption(" · ".join(parts) + ".")


def empty(message: str = NO_DATA) -> None:
    st.info(message, icon=":material/search:")


def format_value(value: object, kind: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "n/a"
    number = float(value)  # type: ignore[arg-type]
    if kind == "percent":
        return f"{number:.1%}"
    if kind == "hours":
        return f"{number:,.1f} h"
    if kind == "rating":
        return f"{number:.2f} / 5"
    return f"{number:,.0f}"


def format_delta(current: object, previous: object, kind: str) -> str | None:
    if current is None or previous is None or pd.isna(current) or pd.isna(previous):
        return None
    change = float(current) - float(previous)  # type: ignore[arg-type]
    if kind == "percent":
        return f"{change * 100:+.1f} pts"
    if kind == "hours":
        return f"{change:+,.1f} h"
    if kind == "rating":
        return f"{change:+.2f}"
    return f"{change:+,.0f}"


def chart(
    figure: alt.Chart | alt.LayerChart,
    *,
    key: str,
    drill: Callable[[dict[str, object]], queries.Drill | None] | None = None,
) -> None:
    """A chart; when ``drill`` is given, clicking a point lists the tickets behind it below."""
    if drill is None:
        st.altair_chart(figure, width="stretch", key=key)
        return
    event = st.altair_chart(figure, width="stretch", key=key, on_select="rerun")
    point = charts.picked(event)
    if point is not None:
        chosen = drill(point)
        if chosen is not None:
            tickets(chosen, key=f"{key}_tickets")
    else:
        st.caption("Click a point or bar to list its tickets; double-click to clear.")


def tickets(drill: queries.Drill, *, key: str) -> None:
    """The incidents behind a number: a count, the newest rows, and every row as CSV."""
    with st.container(border=True):
        total = queries.drill_count(drill)
        noun = drill.noun if total != 1 else drill.noun.removesuffix("s")
        st.markdown(f"**{plain(drill.title)}** — {total:,} {noun}")
        if total == 0:
            empty(f"No {drill.noun} behind this number for these filters.")
            return
        rows = queries.drill_rows(drill, limit=SHOWN_TICKETS)
        columns = queries.RECORD_COLUMNS[drill.table]
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            column_config=columns,
            column_order=list(columns),
        )
        if total > len(rows):
            st.caption(f"Showing {len(rows):,} of {total:,}; the CSV holds all of them.")
        st.download_button(
            "Download CSV",
            data=lambda: queries.drill_csv(drill),
            file_name=f"{drill.file_stem}.csv",
            mime="text/csv",
            key=f"{key}_csv",
            icon=":material/download:",
            on_click="ignore",
        )


def ticket_explorer(
    page: str, filters: Filters, options: dict[str, Callable[[date | None], queries.Drill]]
) -> None:
    """Keyboard-friendly way to any page's tickets: pick the number and the period."""
    st.subheader("Tickets behind the numbers")
    periods = queries.periods(filters)
    columns = st.columns([2, 2, 1])
    metric = columns[0].selectbox("Number", list(options), key=f"{page}_explore_metric")
    period = columns[1].selectbox(
        "Period",
        [None, *periods],
        format_func=lambda day: (
            "the whole date range" if day is None else period_label(day, filters.grain)
        ),
        key=f"{page}_explore_period",
    )
    shown = columns[2].toggle("List tickets", key=f"{page}_explore_show")
    if shown and metric is not None:
        tickets(options[metric](period), key=f"{page}_explore")


def period_short(day: date, grain: str) -> str:
    if grain == "month":
        return f"{day:%b %Y}"
    if grain == "week":
        return f"wk of {day:%d %b}"
    return f"{day:%d %b}"


def period_label(day: date, grain: str) -> str:
    if grain == "month":
        return f"{day:%B %Y}"
    if grain == "week":
        return f"week of {day:%d %b %Y}"
    return f"{day:%a %d %b %Y}"


@dataclass(frozen=True)
class Kpi:
    """A headline number: one column of one rollup, read for the last period of the range."""

    key: str
    label: str
    mart: str
    column: str
    kind: str  # percent, hours, count or rating
    lower_is_better: bool
    population: str  # the tickets behind it (queries.drill_down.POPULATIONS)
    help: str
    rows: dict[str, str] = field(default_factory=dict)  # extra key columns, e.g. target_type
    as_of_column: str | None = None  # for a backlog: the row's snapshot day
    # (covered, left out) count columns of a figure that leaves tickets out (MTTR, FCR): the
    # card says how many it covers ("over 9,310 of 9,874 resolved").
    coverage: tuple[str, str] | None = None


def coverage_text(covered: object, left_out: object) -> str | None:
    """ "over 9,310 of 9,874 resolved (564 with an unknown resolution time left out)"."""
    if covered is None or left_out is None or pd.isna(covered) or pd.isna(left_out):
        return None
    covered, left_out = int(covered), int(left_out)
    text = f"over {covered:,} of {covered + left_out:,} resolved"
    if left_out:
        text += f" ({left_out:,} with an unknown resolution time left out)"
    return text


def kpi_series(kpi: Kpi, frame: pd.DataFrame) -> pd.DataFrame:
    """The KPI's rows (one per period), selected by its extra key columns."""
    for column, value in kpi.rows.items():
        frame = frame[frame[column] == value]
    return frame.sort_values("period_start")


def kpi_period(filters: Filters, *, include_current: bool = False) -> date:
    """The period headline numbers describe: the last complete one in the range, or the one
    holding the range's end (to date) when asked."""
    last = queries.period_start(filters.end, filters.grain)
    if include_current or period_complete(last, filters):
        return last
    return queries.previous_period(last, filters.grain)


def kpi_grid(
    page: str,
    kpis: list[Kpi],
    filters: Filters,
    *,
    period: date,
    per_row: int = 4,
) -> None:
    """KPI cards for ``period`` against the period before, each with its sparkline over the
    range (up to ``period``) and a button that lists the records behind it."""
    previous = queries.previous_period(period, filters.grain)
    first = queries.period_start(filters.start, filters.grain)
    frames: dict[str, pd.DataFrame] = {}
    by_kpi_period: dict[str, object] = {}  # each KPI's mart row of the period
    state_key = f"{page}_kpi_tickets"
    for offset in range(0, len(kpis), per_row):
        columns = st.columns(per_row)
        for column, kpi in zip(columns, kpis[offset : offset + per_row], strict=False):
            if kpi.mart not in frames:
                frames[kpi.mart] = queries.trend(kpi.mart, filters, with_previous=True)
            series = kpi_series(kpi, frames[kpi.mart])
            by_period = {row.period_start.date(): row for row in series.itertuples()}
            by_kpi_period[kpi.key] = by_period.get(period)
            current = getattr(by_period.get(period), kpi.column, None)
            before = getattr(by_period.get(previous), kpi.column, None)
            days = series["period_start"].dt.date
            # Periods without a value (nothing resolved that day, say) are left out of the
            # line: st.metric draws numbers only.
            spark = [
                float(value)
                for value in series[(days >= first) & (days <= period)][kpi.column]
                if not pd.isna(value)
            ]
            delta = format_delta(current, before, kpi.kind)
            unchanged = delta is not None and not any(ch in delta for ch in "123456789")
            with column, st.container(border=True):
                st.metric(
                    kpi.label,
                    format_value(current, kpi.kind),
                    delta=delta,
                    delta_color="off"
                    if unchanged
                    else ("inverse" if kpi.lower_is_better else "normal"),
                    help=kpi.help,
                    chart_data=spark if len(spark) > 1 else None,
                    chart_type="line",
                    delta_description=(
                        f"vs {period_short(previous, filters.grain)}" if delta else None
                    ),
                )
                if kpi.coverage:
                    row = by_period.get(period)
                    note = coverage_text(*(getattr(row, name, None) for name in kpi.coverage))
                    if note:
                        st.caption(note)
                if st.button(
                    "Tickets",
                    key=f"{page}_kpi_{kpi.key}",
                    type="tertiary",
                    icon=":material/list_alt:",
                    help="List the records behind this number",
                ):
                    shown = st.session_state.get(state_key)
                    st.session_state[state_key] = None if shown == kpi.key else kpi.key
    st.caption(
        f"KPIs for {period_label(period, filters.grain)}"
        f"{' (to date)' if not period_complete(period, filters) else ''}, "
        f"compared with {period_label(previous, filters.grain)}."
    )
    shown = st.session_state.get(state_key)
    chosen = next((kpi for kpi in kpis if kpi.key == shown), None)
    if chosen is not None:
        as_of = None
        if chosen.as_of_column:
            row = by_kpi_period.get(chosen.key)
            as_of = pd.Timestamp(getattr(row, chosen.as_of_column)).date() if row else None
        tickets(
            queries.drill(
                chosen.population,
                filters,
                period=period,
                description=chosen.label,
                as_of=as_of,
            ),
            key=f"{page}_kpi_drill",
        )


def period_complete(start: date, filters: Filters) -> bool:
    """Whether the range covers the whole period that begins at ``start``."""
    return queries.next_period(start, filters.grain) <= filters.end + timedelta(days=1)


def picked_period(point: dict[str, object]) -> date:
    """The period start of a clicked point (charts carry it as an ISO date string)."""
    return date.fromisoformat(str(point["period_start"])[:10])


def breakdown_period(filters: Filters, *, key: str) -> date:
    """A period of the range to break a metric down by; the last complete one unless chosen."""
    choices = queries.periods(filters)
    default = kpi_period(filters)
    return st.selectbox(
        "Period",
        choices,
        index=choices.index(default) if default in choices else 0,
        format_func=lambda day: (
            period_label(day, filters.grain)
            + ("" if period_complete(day, filters) else " (to date)")
        ),
        key=key,
    )


def not_sliced_note(dimension: str, filters: Filters) -> None:
    chosen = ", ".join(f"{DIMENSION_LABELS[k]} = {plain(v)}" for k, v in filters.chosen.items())
    st.caption(
        f"By {dimension} across all incidents: the marts slice one dimension at a time, so "
        f"{chosen} does not narrow this chart (it does narrow the ticket lists)."
    )


INCIDENT_LIST_COLUMNS: dict[str, object] = {
    "incident_number": st.column_config.TextColumn("Ticket"),
    "api_url": st.column_config.LinkColumn("API", display_text="open ↗"),
    "title": st.column_config.TextColumn("Title", width="medium"),
    "target_type": st.column_config.TextColumn("Target"),
    "policy_name": st.column_config.TextColumn("SLA policy"),
    "priority_label": st.column_config.TextColumn("Priority"),
    "team_name": st.column_config.TextColumn("Team"),
    "service_name": st.column_config.TextColumn("Service"),
    "category": st.column_config.TextColumn("Category"),
    "due_at": st.column_config.DatetimeColumn("Due", format=queries.DATETIME_FORMAT),
    "breached_at": st.column_config.DatetimeColumn("Breached", format=queries.DATETIME_FORMAT),
    "completed_at": st.column_config.DatetimeColumn("Completed", format=queries.DATETIME_FORMAT),
    "timer_state": st.column_config.TextColumn("Timer"),
    "business_hours_over_target": st.column_config.NumberColumn(
        "Over target (business h)", format="%.1f"
    ),
}


def exports_list(user: auth.SignedIn) -> None:
    """The compliance exports, newest first, each file downloadable through the API (which
    records the download in the audit log under the reader's name)."""
    client = auth.client()
    try:
        try:
            exports = client.exports(token=user.access_token)
        except auth.SignInRefused as refused:
            renewed = auth.renew_now() if refused.status == 401 else None
            if renewed is None:
                raise
            user = renewed
            exports = client.exports(token=user.access_token)
    except auth.SignInRefused as refused:
        st.warning(
            f"The exports could not be listed: {plain(refused.message)}",
            icon=":material/warning:",
        )
        return
    if not exports:
        empty("No compliance export has been generated yet (the pipelines export daily).")
        return
    base = client.base_url
    for export in exports:
        period = f"{export['period_start']} to {export['period_end']}"
        title = f"{period} · version {export['version']} · generated {export['generated_at'][:16]}"
        with st.expander(title):  # dates and numbers the platform wrote
            st.caption(
                f"Folder `{export['folder']}` · by {plain(export['generated_by'])} · dbt "
                f"{export['dbt_version']} · commit {export.get('git_commit') or 'unknown'} · "
                f"manifest sha256 `{export['manifest_sha256'][:16]}…`"
            )
            for file in export["files"]:
                link = f"{base}/api/v1/exports/{export['id']}/files/{file['name']}"
                left, right = st.columns([3, 1])
                rows = f"{file['row_count']:,} rows · " if file.get("row_count") is not None else ""
                # File names are the platform's own (mart names); the link is built from them.
                left.markdown(
                    f"`{file['name']}` · {rows}{file['size_bytes']:,} bytes  \n[{link}]({link})"
                )
                right.download_button(
                    "Download",
                    data=_export_file_reader(client, user, export["id"], file["name"]),
                    file_name=file["name"],
                    key=f"export_{export['id']}_{file['name']}",
                    icon=":material/download:",
                    on_click="ignore",
                )


def _export_file_reader(
    client: auth.ApiClient, user: auth.SignedIn, export_id: int, name: str
) -> Callable[[], bytes]:
    def read() -> bytes:
        return client.export_file(token=user.access_token, export_id=export_id, name=name)

    return read
