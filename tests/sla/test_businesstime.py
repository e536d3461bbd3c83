"""Business-time arithmetic: hand-computed cases, then a property test against a brute-force oracle.

DST dates used below (2026):
  Europe/Amsterdam  spring forward Sun 29 Mar 02:00 -> 03:00, fall back Sun 25 Oct 03:00 -> 02:00
  America/New_York  spring forward Sun  8 Mar 02:00 -> 03:00, fall back Sun  1 Nov 02:00 -> 01:00
King's Day (NL) is Monday 27 April 2026.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from operational.sla.businesstime import (
    BusinessCalendar,
    Clock,
    add_business_minutes,
    business_minutes_between,
    due_at,
    percent_elapsed,
)

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)

OFFICE_AMS = BusinessCalendar.office_hours("Europe/Amsterdam")
OFFICE_NYC = BusinessCalendar.office_hours("America/New_York")
OFFICE_NL = BusinessCalendar.office_hours("Europe/Amsterdam", holiday_country="NL")


def ams(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)


def nyc(*args: int) -> datetime:
    return datetime(*args, tzinfo=NYC)


# --- office hours, holidays -------------------------------------------------------------------


def test_friday_afternoon_plus_two_hours_is_monday_ten():
    due = add_business_minutes(OFFICE_AMS, ams(2026, 6, 5, 16), 120)
    assert due == ams(2026, 6, 8, 10)
    assert due.tzinfo is UTC
    assert business_minutes_between(OFFICE_AMS, ams(2026, 6, 5, 16), ams(2026, 6, 8, 10)) == 120


def test_target_met_at_window_end_returns_the_window_end():
    assert add_business_minutes(OFFICE_AMS, ams(2026, 6, 8, 9), 480) == ams(2026, 6, 8, 17)


def test_start_outside_hours_counts_from_next_window():
    assert add_business_minutes(OFFICE_AMS, ams(2026, 6, 6, 12), 60) == ams(2026, 6, 8, 10)
    assert business_minutes_between(OFFICE_AMS, ams(2026, 6, 6, 0), ams(2026, 6, 8, 0)) == 0


def test_zero_minutes_returns_the_start_even_outside_hours():
    saturday_noon = ams(2026, 6, 6, 12)
    assert add_business_minutes(OFFICE_AMS, saturday_noon, 0) == saturday_noon


def test_a_working_week_has_forty_hours():
    assert business_minutes_between(OFFICE_AMS, ams(2026, 6, 8), ams(2026, 6, 15)) == 40 * 60


def test_kings_day_is_skipped():
    assert OFFICE_NL.is_holiday(date(2026, 4, 27))
    assert not OFFICE_NL.is_business_time(ams(2026, 4, 27, 12))
    due = add_business_minutes(OFFICE_NL, ams(2026, 4, 24, 16), 120)
    assert due == ams(2026, 4, 28, 10)
    assert business_minutes_between(OFFICE_NL, ams(2026, 4, 24, 16), ams(2026, 4, 28, 10)) == 120


def test_removed_holiday_is_a_working_day():
    calendar = BusinessCalendar.office_hours(
        "Europe/Amsterdam", holiday_country="NL", removed_holidays={date(2026, 4, 27)}
    )
    assert not calendar.is_holiday(date(2026, 4, 27))
    assert add_business_minutes(calendar, ams(2026, 4, 24, 16), 120) == ams(2026, 4, 27, 10)


def test_added_holiday_is_skipped_too():
    calendar = BusinessCalendar.office_hours(
        "Europe/Amsterdam", holiday_country="NL", added_holidays={date(2026, 4, 28)}
    )
    assert calendar.is_holiday(date(2026, 4, 28))
    assert add_business_minutes(calendar, ams(2026, 4, 24, 16), 120) == ams(2026, 4, 29, 10)


def test_subdivision_holidays_apply():
    # Epiphany (6 Jan 2026, a Tuesday) is a holiday in Bavaria but not in Berlin.
    bavaria = BusinessCalendar.office_hours(
        "Europe/Berlin", holiday_country="DE", holiday_subdivision="BY"
    )
    berlin = BusinessCalendar.office_hours(
        "Europe/Berlin", holiday_country="DE", holiday_subdivision="BE"
    )
    assert bavaria.is_holiday(date(2026, 1, 6))
    assert not berlin.is_holiday(date(2026, 1, 6))


# --- DST ------------------------------------------------------------------------------------

TWENTY_FOUR_SEVEN_AMS = BusinessCalendar.twenty_four_seven("Europe/Amsterdam")
TWENTY_FOUR_SEVEN_NYC = BusinessCalendar.twenty_four_seven("America/New_York")


@pytest.mark.parametrize(
    ("calendar", "start", "end", "minutes"),
    [
        (TWENTY_FOUR_SEVEN_AMS, ams(2026, 3, 28, 12), ams(2026, 3, 29, 12), 23 * 60),
        (TWENTY_FOUR_SEVEN_AMS, ams(2026, 10, 24, 12), ams(2026, 10, 25, 12), 25 * 60),
        (TWENTY_FOUR_SEVEN_NYC, nyc(2026, 3, 7, 12), nyc(2026, 3, 8, 12), 23 * 60),
        (TWENTY_FOUR_SEVEN_NYC, nyc(2026, 10, 31, 12), nyc(2026, 11, 1, 12), 25 * 60),
    ],
    ids=["ams-spring", "ams-fall", "nyc-spring", "nyc-fall"],
)
def test_twenty_four_seven_counts_real_elapsed_time_over_dst(calendar, start, end, minutes):
    assert business_minutes_between(calendar, start, end) == minutes


def test_twenty_four_seven_add_a_day_over_dst_moves_the_wall_clock():
    assert add_business_minutes(TWENTY_FOUR_SEVEN_AMS, ams(2026, 3, 28, 12), 1440) == ams(
        2026, 3, 29, 13
    )
    assert add_business_minutes(TWENTY_FOUR_SEVEN_AMS, ams(2026, 10, 24, 12), 1440) == ams(
        2026, 10, 25, 11
    )
    assert add_business_minutes(TWENTY_FOUR_SEVEN_NYC, nyc(2026, 3, 7, 12), 1440) == nyc(
        2026, 3, 8, 13
    )
    assert add_business_minutes(TWENTY_FOUR_SEVEN_NYC, nyc(2026, 10, 31, 12), 1440) == nyc(
        2026, 11, 1, 11
    )


def test_office_hours_over_dst_weekends_keep_their_wall_clock():
    assert add_business_minutes(OFFICE_AMS, ams(2026, 3, 27, 16), 120) == ams(2026, 3, 30, 10)
    assert add_business_minutes(OFFICE_AMS, ams(2026, 10, 23, 16), 120) == ams(2026, 10, 26, 10)
    assert add_business_minutes(OFFICE_NYC, nyc(2026, 3, 6, 16), 120) == nyc(2026, 3, 9, 10)
    assert add_business_minutes(OFFICE_NYC, nyc(2026, 10, 30, 16), 120) == nyc(2026, 11, 2, 10)
    # The weeks that contain a transition still have forty office hours.
    assert business_minutes_between(OFFICE_AMS, ams(2026, 3, 23), ams(2026, 3, 30)) == 2400
    assert business_minutes_between(OFFICE_NYC, nyc(2026, 10, 26), nyc(2026, 11, 2)) == 2400


@pytest.mark.parametrize(
    ("zone", "sunday", "minutes"),
    [
        ("Europe/Amsterdam", date(2026, 3, 29), 5 * 60),  # 02:00-03:00 does not exist
        ("Europe/Amsterdam", date(2026, 10, 25), 7 * 60),  # 02:00-03:00 happens twice
        ("America/New_York", date(2026, 3, 8), 5 * 60),
        ("America/New_York", date(2026, 11, 1), 7 * 60),
    ],
)
def test_night_shift_over_a_transition_counts_real_time(zone, sunday, minutes):
    night_shift = BusinessCalendar(zone, {6: ((time(0, 0), time(6, 0)),)})
    start = datetime.combine(sunday, time(0, 0), ZoneInfo(zone))
    end = datetime.combine(sunday + timedelta(days=1), time(0, 0), ZoneInfo(zone))
    assert business_minutes_between(night_shift, start, end) == minutes


def test_add_lands_in_the_repeated_fall_back_hour():
    one_to_two = BusinessCalendar("America/New_York", {6: ((time(1, 0), time(2, 0)),)})
    due = add_business_minutes(one_to_two, nyc(2026, 11, 1, 0), 90)
    # 60 minutes of 01:00-02:00 EDT, then 30 of the repeated 01:00-02:00 EST.
    local = due.astimezone(NYC)  # fold=1 datetimes never compare equal across zones (PEP 495)
    assert (local.hour, local.minute, local.fold) == (1, 30, 1)
    assert local.utcoffset() == timedelta(hours=-5)
    assert due == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_window_inside_the_spring_forward_gap_is_never_business_time():
    two_to_three = BusinessCalendar("America/New_York", {6: ((time(2, 0), time(3, 0)),)})
    assert business_minutes_between(two_to_three, nyc(2026, 3, 8), nyc(2026, 3, 9)) == 0
    assert add_business_minutes(two_to_three, nyc(2026, 3, 8), 30) == nyc(2026, 3, 15, 2, 30)


def test_a_day_skipped_by_the_zone_has_no_business_time():
    # Samoa moved across the date line: Friday 30 December 2011 never happened in Apia.
    fridays = BusinessCalendar("Pacific/Apia", {4: ((time(0, 0), time(0, 0)),)})
    apia = ZoneInfo("Pacific/Apia")
    start, end = datetime(2011, 12, 26, tzinfo=apia), datetime(2012, 1, 9, tzinfo=apia)
    assert business_minutes_between(fridays, start, end) == 24 * 60  # only 6 January


# --- pauses ---------------------------------------------------------------------------------


def test_pause_moves_the_due_date():
    pause = (ams(2026, 6, 8, 10), ams(2026, 6, 8, 11))
    assert add_business_minutes(OFFICE_AMS, ams(2026, 6, 8, 9), 120, pauses=[pause]) == ams(
        2026, 6, 8, 12
    )
    assert (
        business_minutes_between(
            OFFICE_AMS, ams(2026, 6, 8, 9), ams(2026, 6, 8, 12), pauses=[pause]
        )
        == 120
    )


def test_overlapping_pauses_count_once():
    pauses = [
        (ams(2026, 6, 8, 10), ams(2026, 6, 8, 11)),
        (ams(2026, 6, 8, 10, 30), ams(2026, 6, 8, 11, 30)),
    ]
    assert (
        business_minutes_between(OFFICE_AMS, ams(2026, 6, 8, 9), ams(2026, 6, 8, 12), pauses=pauses)
        == 90
    )


def test_pause_outside_business_hours_changes_nothing():
    weekend = (ams(2026, 6, 6, 0), ams(2026, 6, 8, 0))
    assert add_business_minutes(OFFICE_AMS, ams(2026, 6, 5, 16), 120, pauses=[weekend]) == ams(
        2026, 6, 8, 10
    )


def test_open_pause_stops_the_clock():
    start, open_pause = ams(2026, 6, 8, 9), [(ams(2026, 6, 8, 10), None)]
    assert business_minutes_between(OFFICE_AMS, start, ams(2026, 6, 9, 12), pauses=open_pause) == 60
    assert due_at(OFFICE_AMS, start, 120, pauses=open_pause) is None
    assert due_at(OFFICE_AMS, start, 60, pauses=open_pause) == ams(2026, 6, 8, 10)
    with pytest.raises(ValueError, match="open-ended pause"):
        add_business_minutes(OFFICE_AMS, start, 120, pauses=open_pause)
    clock = Clock(OFFICE_AMS, start, open_pause)
    assert clock.minutes_until(ams(2026, 6, 9, 12)) == 60
    assert clock.add(60) == ams(2026, 6, 8, 10)
    with pytest.raises(ValueError, match="open-ended pause"):
        clock.add(120)


def test_percent_elapsed():
    start = ams(2026, 6, 8, 9)
    assert percent_elapsed(OFFICE_AMS, start, ams(2026, 6, 8, 13), 480) == 50.0
    assert percent_elapsed(OFFICE_AMS, start, ams(2026, 6, 9, 13), 480) == 150.0


# --- bad input ------------------------------------------------------------------------------


def test_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        business_minutes_between(OFFICE_AMS, datetime(2026, 6, 8, 9), ams(2026, 6, 8, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(OFFICE_AMS, datetime(2026, 6, 8, 9), 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_minutes_between(
            OFFICE_AMS,
            ams(2026, 6, 8, 9),
            ams(2026, 6, 8, 12),
            pauses=[(datetime(2026, 6, 8), None)],
        )


def test_calendar_without_working_time_cannot_be_due():
    never = BusinessCalendar("UTC", {})
    assert business_minutes_between(never, ams(2026, 6, 8), ams(2026, 6, 20)) == 0
    with pytest.raises(ValueError, match="no working time"):
        add_business_minutes(never, ams(2026, 6, 8), 1)


def test_add_gives_up_after_ten_years_without_business_time():
    first_monday = date(2026, 6, 8)
    mondays = {first_monday + timedelta(weeks=k) for k in range(11 * 53)}
    mondays_off = BusinessCalendar("UTC", {0: ((time(9), time(17)),)}, added_holidays=mondays)
    with pytest.raises(ValueError, match="no business time in"):
        add_business_minutes(mondays_off, ams(2026, 6, 8), 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: BusinessCalendar("Mars/Olympus", {}),
        lambda: BusinessCalendar("UTC", {0: ((time(22, 0), time(6, 0)),)}),
        lambda: BusinessCalendar("UTC", {0: ((time(9, 0), time(9, 0)),)}),
        lambda: BusinessCalendar("UTC", {7: ((time(9, 0), time(17, 0)),)}),
        lambda: BusinessCalendar("UTC", {}, holiday_country="XX"),
        lambda: BusinessCalendar("UTC", {}, holiday_country="US", holiday_subdivision="ZZ"),
        lambda: BusinessCalendar(
            "UTC",
            {},
            added_holidays=frozenset({date(2026, 1, 1)}),
            removed_holidays=frozenset({date(2026, 1, 1)}),
        ),
    ],
    ids=[
        "zone",
        "crosses-midnight",
        "empty-window",
        "weekday",
        "country",
        "subdivision",
        "added-and-removed",
    ],
)
def test_rejects_bad_calendars(make):
    with pytest.raises(ValueError):
        make()


def test_rejects_bad_minutes_and_pauses():
    with pytest.raises(ValueError):
        add_business_minutes(OFFICE_AMS, ams(2026, 6, 8, 9), -1)
    for minutes in (float("nan"), float("inf"), -0.5, True, "60"):
        with pytest.raises(ValueError):
            add_business_minutes(OFFICE_AMS, ams(2026, 6, 8, 9), minutes)
        with pytest.raises(ValueError):
            Clock(OFFICE_AMS, ams(2026, 6, 8, 9)).add(minutes)
    with pytest.raises(ValueError, match="ends before it starts"):
        business_minutes_between(
            OFFICE_AMS,
            ams(2026, 6, 8, 9),
            ams(2026, 6, 8, 12),
            pauses=[(ams(2026, 6, 8, 11), ams(2026, 6, 8, 10))],
        )


def test_calendars_are_values():
    same = BusinessCalendar(
        "Europe/Amsterdam", {day: ((time(13), time(17)), (time(9), time(13))) for day in range(5)}
    )
    assert same == OFFICE_AMS
    assert hash(same) == hash(OFFICE_AMS)
    assert same.weekly_hours[5] == ()
    assert same.weekly_hours[0] == ((time(9), time(17)),)
    assert pickle.loads(pickle.dumps(OFFICE_NL)) == OFFICE_NL
    assert copy.deepcopy(OFFICE_NL) == OFFICE_NL


# --- property test against a brute-force oracle -----------------------------------------------

ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "UTC",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Sao_Paulo",  # transitions at local midnight until 2019
    "Pacific/Apia",  # skipped 30 Dec 2011
]
HOLIDAY_REGIONS = [None, None, ("NL", None), ("US", "NY"), ("DE", "BY")]
FIRST_YEAR, LAST_YEAR = 2000, 2035
MAX_SPAN_MINUTES = 6 * 24 * 60


@cache
def offset_changes(zone_name: str) -> tuple[datetime, ...]:
    """Each UTC minute at which the zone's offset changes, in the years tested (plain scan)."""
    zone, changes = ZoneInfo(zone_name), []

    def offset(instant: datetime) -> timedelta:
        return instant.astimezone(zone).utcoffset()

    noon = datetime(FIRST_YEAR, 1, 1, 12, tzinfo=UTC)
    while noon.year <= LAST_YEAR:
        if offset(noon) != offset(noon + timedelta(days=1)):
            hour = next(
                noon + timedelta(hours=h)
                for h in range(24)
                if offset(noon + timedelta(hours=h + 1)) != offset(noon)
            )
            changes.append(
                next(
                    hour + m * MINUTE
                    for m in range(1, 61)
                    if offset(hour + m * MINUTE) != offset(noon)
                )
            )
        noon += timedelta(days=1)
    return tuple(changes)


@cache
def oracle_country_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar as plain data, so the oracle does not depend on the code under test."""

    zone: str
    minute_windows: dict[int, list[tuple[int, int]]]  # weekday -> [(start, end)], end <= 1440
    region: tuple[str, str | None] | None
    added: frozenset[date]
    removed: frozenset[date]

    def build(self) -> BusinessCalendar:
        def as_time(minute: int) -> time:
            return time(0, 0) if minute == 1440 else time(minute // 60, minute % 60)

        return BusinessCalendar(
            timezone=self.zone,
            weekly_hours={
                day: tuple((as_time(s), as_time(e)) for s, e in windows)
                for day, windows in self.minute_windows.items()
            },
            holiday_country=self.region[0] if self.region else None,
            holiday_subdivision=self.region[1] if self.region else None,
            added_holidays=self.added,
            removed_holidays=self.removed,
        )


def oracle_business_minutes(spec: CalendarSpec, start: datetime, count: int) -> list[bool]:
    """For each UTC minute from start: is it business time? Checks the rule literally."""
    zone, flags = ZoneInfo(spec.zone), []
    for index in range(count):
        local = (start + index * MINUTE).astimezone(zone)
        day = local.date()
        holiday = day in spec.added or (
            spec.region is not None
            and day not in spec.removed
            and day in oracle_country_holidays(*spec.region, day.year)
        )
        minute_of_day = local.hour * 60 + local.minute
        in_window = any(
            s <= minute_of_day < e for s, e in spec.minute_windows.get(local.weekday(), [])
        )
        flags.append(in_window and not holiday)
    return flags


def oracle_paused(pauses, start: datetime, count: int) -> list[bool]:
    return [
        any(
            p_start <= start + index * MINUTE and (p_end is None or start + index * MINUTE < p_end)
            for p_start, p_end in pauses
        )
        for index in range(count)
    ]


def describe_coverage(spec: CalendarSpec, start: datetime, end: datetime, pauses) -> None:
    """Label the example so `pytest --hypothesis-show-statistics` shows what the run covered."""
    zone = ZoneInfo(spec.zone)
    if start.astimezone(zone).utcoffset() != end.astimezone(zone).utcoffset():
        event("span crosses a UTC-offset change")
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    if any(d in spec.added for d in days):
        event("span holds an added holiday")
    if spec.region and any(d in oracle_country_holidays(*spec.region, d.year) for d in days):
        event("span holds a country holiday")
    if any(d in spec.removed for d in days):
        event("span holds a removed holiday")
    if pauses:
        event("has pauses")
    if any(p_end is None for _, p_end in pauses):
        event("has an open pause")


# Window edges favour the hours where DST transitions happen.
window_edges = st.one_of(
    st.integers(0, 1440), st.sampled_from([0, 60, 120, 150, 180, 210, 240, 1380, 1440])
)


@st.composite
def day_windows(draw) -> list[tuple[int, int]]:
    kind = draw(st.sampled_from(["none", "whole", "some", "some"]))
    if kind == "none":
        return []
    if kind == "whole":
        return [(0, 1440)]
    windows = []
    for _ in range(draw(st.integers(1, 3))):
        a, b = draw(window_edges), draw(window_edges)
        if a != b:
            windows.append((min(a, b), max(a, b)))  # may overlap: the calendar merges them
    return windows


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(ZONES))
    region = draw(st.sampled_from(HOLIDAY_REGIONS))
    windows = {day: draw(day_windows()) for day in range(7)}
    anchors = ["uniform", "transition", "transition", "transition"] + (
        ["holiday"] if region else []
    )
    anchor = draw(st.sampled_from(anchors))
    if anchor == "transition" and offset_changes(zone):
        change = draw(st.sampled_from(offset_changes(zone)))
        lead = draw(st.integers(-24 * 60, 3 * 24 * 60), label="minutes from start to the change")
        start = change - lead * MINUTE
        # Mostly reach past the change, often ending just after it; small draws are common.
        span = max(lead, 0) + draw(st.integers(0, MAX_SPAN_MINUTES - 3 * 24 * 60))
    else:
        if anchor == "holiday":
            year = draw(st.integers(FIRST_YEAR, LAST_YEAR))
            holiday = draw(st.sampled_from(sorted(oracle_country_holidays(*region, year))))
            base = datetime.combine(holiday, time(0, 0), UTC) - timedelta(days=3)
        else:
            year_start = datetime(draw(st.integers(FIRST_YEAR, LAST_YEAR)), 1, 1, tzinfo=UTC)
            base = year_start + timedelta(days=draw(st.integers(0, 364)))
        start = base + MINUTE * draw(st.integers(0, 4 * 24 * 60))
        span = draw(st.integers(0, MAX_SPAN_MINUTES))

    nearby_dates = [start.date() + timedelta(days=k) for k in range(-1, 8)]
    added = draw(st.frozensets(st.sampled_from(nearby_dates), max_size=3))
    removable = [d for d in nearby_dates if d not in added]
    if region:  # removing a date only matters if it is a country holiday
        removable += [
            d
            for d in oracle_country_holidays(*region, start.year)
            if d not in added and abs((d - start.date()).days) < 10
        ]
    removed = draw(st.frozensets(st.sampled_from(removable), max_size=3))

    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        pause_start = start + MINUTE * draw(st.integers(-24 * 60, span + 24 * 60))
        length = draw(st.one_of(st.none(), st.integers(0, 2 * 24 * 60)))
        pauses.append((pause_start, None if length is None else pause_start + MINUTE * length))
    spec = CalendarSpec(zone, windows, region, added, removed)
    return spec, start, span, pauses


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), data=st.data())
def test_arithmetic_matches_minute_by_minute_oracle(scenario, data):
    spec, start, span, pauses = scenario
    calendar = spec.build()
    end = start + span * MINUTE
    business = oracle_business_minutes(spec, start, span)
    paused = oracle_paused(pauses, start, span)
    running = [
        is_business and not is_paused
        for is_business, is_paused in zip(business, paused, strict=True)
    ]
    describe_coverage(spec, start, end, pauses)

    assert business_minutes_between(calendar, start, end) == sum(business)
    assert business_minutes_between(calendar, start, end, pauses=pauses) == sum(running)
    clock = Clock(calendar, start, pauses)
    assert clock.minutes_until(end) == sum(running)

    if span:
        index = data.draw(st.integers(0, span - 1), label="probe minute")
        assert calendar.is_business_time(start + index * MINUTE) == business[index]

    # add: the m-th running minute ends at the due instant; minimal and a round trip.
    target = data.draw(st.integers(0, sum(running)), label="target minutes")
    running_minute_ends = [index + 1 for index, flag in enumerate(running) if flag]
    expected = start if target == 0 else start + running_minute_ends[target - 1] * MINUTE
    due = add_business_minutes(calendar, start, target, pauses=pauses)
    assert due == expected
    assert due_at(calendar, start, target, pauses=pauses) == expected
    assert clock.add(target) == expected
    assert business_minutes_between(calendar, start, due, pauses=pauses) == target
    if target:
        assert business_minutes_between(calendar, start, due - MINUTE, pauses=pauses) < target


@settings(max_examples=200, deadline=None)
@given(
    scenario=scenarios(),
    cut=st.integers(-(10**6), 10**6),
    seconds=st.integers(0, 59),
    microseconds=st.integers(0, 999_999),
)
def test_sub_minute_instants_add_up(scenario, cut, seconds, microseconds):
    spec, start, span, pauses = scenario
    calendar = spec.build()
    start = start + timedelta(seconds=seconds, microseconds=microseconds)
    end = start + span * MINUTE
    middle = min(max(start + timedelta(seconds=span * 30, microseconds=cut), start), end)
    whole = business_minutes_between(calendar, start, end, pauses=pauses)
    parts = business_minutes_between(calendar, start, middle, pauses=pauses) + (
        business_minutes_between(calendar, middle, end, pauses=pauses)
    )
    assert parts == pytest.approx(whole, abs=1e-9)
    due = add_business_minutes(calendar, start, whole / 2, pauses=pauses)
    assert business_minutes_between(calendar, start, due, pauses=pauses) == pytest.approx(
        whole / 2, abs=1e-6
    )
