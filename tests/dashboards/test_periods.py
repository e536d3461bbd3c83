"""Period arithmetic and URL parsing of the filters: pure functions, checked by hand."""

from datetime import date

from dashboards import queries
from dashboards.filters import FilterOptions, Filters, parse_query_params

OPTIONS = FilterOptions(team=("Network", "Service Desk"), priority=("P1", "P2"))


def test_weeks_start_on_monday_and_months_roll_over_the_year():
    assert queries.period_start(date(2026, 3, 8), "week") == date(2026, 3, 2)  # a Sunday
    assert queries.period_start(date(2026, 3, 9), "week") == date(2026, 3, 9)  # a Monday
    assert queries.next_period(date(2026, 12, 1), "month") == date(2027, 1, 1)
    assert queries.previous_period(date(2026, 1, 1), "month") == date(2025, 12, 1)
    assert queries.previous_period(date(2026, 3, 2), "week") == date(2026, 2, 23)


def test_the_periods_of_a_range_are_those_it_overlaps_newest_first():
    march = Filters(start=date(2026, 3, 4), end=date(2026, 3, 17), grain="week")
    assert queries.periods(march) == [date(2026, 3, 16), date(2026, 3, 9), date(2026, 3, 2)]
    winter = Filters(start=date(2025, 12, 31), end=date(2026, 1, 1), grain="month")
    assert queries.periods(winter) == [date(2026, 1, 1), date(2025, 12, 1)]


def test_a_link_sets_the_filters_and_bad_values_are_dropped_with_a_notice():
    filters, notices = parse_query_params(
        {"from": "2026-03-01", "to": "2026-03-31", "grain": "month", "team": "Network"},
        options=OPTIONS,
        today=date(2026, 6, 1),
    )
    assert (filters.start, filters.end, filters.grain) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
        "month",
    )
    assert filters.chosen == {"team": "Network"} and notices == []

    filters, notices = parse_query_params(
        {"from": "2026-03-31", "to": "2026-03-01", "priority": "P9"},
        options=OPTIONS,
        today=date(2026, 6, 1),
    )
    assert (filters.start, filters.end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert filters.chosen == {}
    assert len(notices) == 2


def test_the_marts_are_read_at_the_first_chosen_dimension():
    both = Filters(
        start=date(2026, 3, 1),
        end=date(2026, 3, 31),
        chosen={"priority": "P1", "team": "Network"},
    )
    assert both.slice == ("team", "Network")
    assert both.unsliced_dimensions == ["priority"]
    assert Filters(start=date(2026, 3, 1), end=date(2026, 3, 31)).slice == ("all", "all")
