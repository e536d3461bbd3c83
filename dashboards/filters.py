"""The shared sidebar filters. They live in the URL (``st.query_params``) so a view is a link.

Every page reads the same :class:`Filters`. The entry script draws the widgets on every run, so
their values carry across pages; after each run the URL is rewritten from them.

URL keys: ``from``, ``to`` (ISO dates), ``grain`` (day, week, month) and one of each of
``team``, ``priority``, ``service``, ``category``. Unknown values in a shared link are dropped
with a notice, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import streamlit as st

from dashboards.plain import plain

GRAINS = ("day", "week", "month")
DIMENSIONS = ("team", "priority", "service", "category")
DIMENSION_LABELS = {
    "team": "Team",
    "priority": "Priority",
    "service": "Service",
    "category": "Category",
}
ALL = "All"
DEFAULT_GRAIN = "week"
DEFAULT_WEEKS = 12
_STATE_PREFIX = "filter_"
_LOADED_FLAG = "filters_loaded_from_url"


@dataclass(frozen=True)
class FilterOptions:
    """The values each dimension may take, as the marts name them."""

    team: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    category: tuple[str, ...] = ()

    def of(self, dimension: str) -> tuple[str, ...]:
        return getattr(self, dimension)


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    grain: str = DEFAULT_GRAIN
    # Dimension -> chosen value; a dimension left at "All" is absent.
    chosen: dict[str, str] = field(default_factory=dict)

    def value(self, dimension: str) -> str | None:
        return self.chosen.get(dimension)

    @property
    def slice(self) -> tuple[str, str]:
        """The one (slice_by, slice_value) of the metric marts that these filters select.

        The rollups are cut by one dimension at a time; with several dimensions chosen the
        first in DIMENSIONS order wins (the page says so, see :attr:`unsliced_dimensions`).
        """
        for dimension in DIMENSIONS:
            if dimension in self.chosen:
                return dimension, self.chosen[dimension]
        return "all", "all"

    @property
    def unsliced_dimensions(self) -> list[str]:
        """Chosen dimensions that the metric marts cannot apply together with the slice."""
        chosen = [dimension for dimension in DIMENSIONS if dimension in self.chosen]
        return chosen[1:]

    def describe(self) -> str:
        parts = [f"{self.start:%d %b %Y} to {self.end:%d %b %Y}", f"by {self.grain}"]
        parts += [f"{DIMENSION_LABELS[key]}: {value}" for key, value in self.chosen.items()]
        return " · ".join(parts)

    def to_query_params(self) -> dict[str, str]:
        params = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "grain": self.grain,
        }
        params.update(self.chosen)
        return params


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1), today


def parse_query_params(
    params: dict[str, str], *, options: FilterOptions, today: date
) -> tuple[Filters, list[str]]:
    """Filters from URL parameters, plus a notice for each value that could not be used."""
    notices: list[str] = []
    start, end = default_range(today)
    try:
        if "from" in params:
            start = date.fromisoformat(params["from"])
        if "to" in params:
            end = date.fromisoformat(params["to"])
    except ValueError:
        notices.append("The link's dates are not ISO dates (YYYY-MM-DD); showing the default.")
        start, end = default_range(today)
    if start > end:
        notices.append("The link's start date is after its end date; they were swapped.")
        start, end = end, start
    grain = params.get("grain", DEFAULT_GRAIN)
    if grain not in GRAINS:
        notices.append(f"Unknown period grain {grain!r}; showing by {DEFAULT_GRAIN}.")
        grain = DEFAULT_GRAIN
    chosen = {}
    for dimension in DIMENSIONS:
        value = params.get(dimension)
        if value is None or value == ALL:
            continue
        if value in options.of(dimension):
            chosen[dimension] = value
        else:
            notices.append(f"No {dimension} named {value!r} in the marts; the filter was dropped.")
    return Filters(start=start, end=end, grain=grain, chosen=chosen), notices


def _key(name: str) -> str:
    return _STATE_PREFIX + name


def _load_state_from_url(options: FilterOptions, today: date) -> None:
    """Once per session: the URL (a shared link) decides the starting filters."""
    if st.session_state.get(_LOADED_FLAG):
        return
    params = {key: st.query_params[key] for key in st.query_params}
    filters, notices = parse_query_params(params, options=options, today=today)
    st.session_state[_key("dates")] = (filters.start, filters.end)
    st.session_state[_key("grain")] = filters.grain
    for dimension in DIMENSIONS:
        st.session_state[_key(dimension)] = filters.chosen.get(dimension, ALL)
    st.session_state["filter_notices"] = notices
    st.session_state[_LOADED_FLAG] = True


def sidebar(options: FilterOptions, *, today: date) -> Filters:
    """Draw the filters in the sidebar and return them; the URL follows the widgets."""
    _load_state_from_url(options, today)
    # Streamlit forgets the state of widgets that a page did not draw; the entry script draws
    # them on every page, so keep-alive is only needed on the login-to-page transition.
    for name in ("dates", "grain", *DIMENSIONS):
        if _key(name) in st.session_state:
            st.session_state[_key(name)] = st.session_state[_key(name)]

    with st.sidebar:
        st.header("Filters")
        dates = st.date_input(
            "Date range",
            key=_key("dates"),
            format="YYYY-MM-DD",
            help="Periods that overlap this range are shown.",
        )
        start, end = _complete_range(dates, today)
        grain = st.segmented_control(
            "Period",
            GRAINS,
            key=_key("grain"),
            format_func=str.capitalize,
            help="Grain of the trends; the Overview compares the last period with the one before.",
        )
        grain = grain or DEFAULT_GRAIN
        chosen = {}
        for dimension in DIMENSIONS:
            values = (ALL, *options.of(dimension))
            if st.session_state.get(_key(dimension)) not in values:
                st.session_state[_key(dimension)] = ALL
            value = st.selectbox(DIMENSION_LABELS[dimension], values, key=_key(dimension))
            if value != ALL:
                chosen[dimension] = value
        for notice in st.session_state.get("filter_notices", []):
            st.caption(f"⚠ {plain(notice)}")  # it quotes what the link held

    filters = Filters(start=start, end=end, grain=grain, chosen=chosen)
    write_url(filters)
    return filters


def _complete_range(dates: object, today: date) -> tuple[date, date]:
    """While a range is being picked the widget holds one date: use it as a one-day range."""
    if isinstance(dates, tuple | list):
        if len(dates) == 2:
            return dates[0], dates[1]
        if len(dates) == 1:
            return dates[0], dates[0]
    if isinstance(dates, date):
        return dates, dates
    return default_range(today)


def write_url(filters: Filters) -> None:
    wanted = filters.to_query_params()
    current = {key: st.query_params[key] for key in st.query_params}
    if current != wanted:
        st.query_params.from_dict(wanted)


def current() -> Filters:
    """The filters the entry script drew for this run (pages call this)."""
    return st.session_state["filters"]
