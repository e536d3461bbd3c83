"""Business-time arithmetic: the one implementation every SLA number comes from.

The API's due dates, breach detection and the analytics backfill of imported history all call
this module; there is no second implementation (in SQL or elsewhere).

Semantics
---------
* A calendar has a time zone, working windows per local weekday and holidays.
* An instant is *business time* iff its local wall-clock time (in the calendar's zone) lies
  inside a working window of its local weekday, and its local date is not a holiday.
* Durations are real elapsed time. A DST night in a 24x7 calendar is 23 or 25 hours long; local
  times that do not exist (the spring-forward gap) are never business time; local times that
  occur twice (the fall-back hour) count twice.
* Intervals are half-open ``[start, end)``. Pauses are half-open too and their union is removed.
* Resolution is one microsecond; results are returned as minutes (``float``) or as aware UTC
  datetimes. Naive datetimes are rejected with ``ValueError``.

Windows are ``(start, end)`` pairs of naive ``datetime.time``. ``end == time(0, 0)`` means 24:00
(the end of that day), so ``(time(0, 0), time(0, 0))`` is the whole day. A window cannot cross
midnight: split 22:00-06:00 into ``(22:00, 24:00)`` on one day and ``(00:00, 06:00)`` on the next.
Overlapping or touching windows of a day are merged.

Implementation: the arithmetic walks one local day at a time under a constant UTC offset and
locates offset changes by bisection, so it costs a few microseconds per calendar day spanned,
never per minute. It assumes at most one UTC-offset change per local day, which holds for every
zone in tzdata (their closest two transitions are about four days apart).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "BusinessCalendar",
    "Clock",
    "NoBusinessTime",
    "Pause",
    "Window",
    "add_business_minutes",
    "business_minutes_between",
    "due_at",
    "percent_elapsed",
]

Window = tuple[time, time]
Pause = tuple[datetime, datetime | None]

_ONE_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH_WEEKDAY = date(1970, 1, 1).weekday()
# add_business_minutes gives up after this many consecutive calendar days without business time.
_MAX_IDLE_DAYS = 3660
_LAST_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _ONE_US
_WHOLE_DAY: tuple[Window, ...] = ((time(0, 0), time(0, 0)),)


class NoBusinessTime(ValueError):
    """The calendar has no working time (at all, or for years on end): no due date exists."""


@lru_cache(maxsize=256)
def _check_holiday_region(country: str, subdivision: str | None) -> None:
    import holidays  # deferred: importing holidays costs ~75 ms and most callers never need it

    try:
        holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise ValueError(str(exc)) from exc


@lru_cache(maxsize=4096)
def _country_holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # The holidays package recomputes its rules on every construction; cache one year at a time.
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _time_of_day_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _time_from_us(us_of_day: int) -> time:
    if us_of_day == _US_PER_DAY:
        return time(0, 0)
    seconds, microsecond = divmod(us_of_day, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, microsecond)


def _normalise_windows(weekday: int, windows: Iterable[Window]) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    for window in windows:
        start, end = window
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(f"weekday {weekday}: window {window!r} must be a pair of times")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"weekday {weekday}: window times must be naive (local wall clock)")
        start_us = _time_of_day_us(start)
        end_us = _time_of_day_us(end) or _US_PER_DAY  # 00:00 as an end means 24:00
        if start_us >= end_us:
            raise ValueError(
                f"weekday {weekday}: window {start.isoformat()}-{end.isoformat()} is empty or "
                "crosses midnight; split it into one window per day"
            )
        spans.append((start_us, end_us))
    merged: list[tuple[int, int]] = []
    for start_us, end_us in sorted(spans):
        if merged and start_us <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end_us))
        else:
            merged.append((start_us, end_us))
    return tuple(merged)


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly working windows in a time zone, minus holidays.

    ``weekly_hours`` maps weekday (0 = Monday .. 6 = Sunday) to a tuple of ``(start, end)``
    windows in local wall-clock time; ``end == time(0, 0)`` means 24:00. Missing weekdays have no
    working time. After construction it holds all seven weekdays, windows sorted and merged.

    Holidays: the public holidays of ``holiday_country`` (ISO 3166 code, optionally with
    ``holiday_subdivision``) from the ``holidays`` package, plus ``added_holidays``, minus
    ``removed_holidays``. A holiday date has no working time at all.
    """

    timezone: str
    weekly_hours: Mapping[int, tuple[Window, ...]]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    added_holidays: frozenset[date] = frozenset()
    removed_holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _week_us: tuple[tuple[tuple[int, int], ...], ...] = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc

        if not isinstance(self.weekly_hours, Mapping):
            raise ValueError("weekly_hours must map weekday (0 = Monday) to windows")
        unknown_days = set(self.weekly_hours) - set(range(7))
        if unknown_days:
            raise ValueError(f"weekdays must be 0 (Monday) to 6 (Sunday), got {unknown_days}")
        week_us = tuple(_normalise_windows(day, self.weekly_hours.get(day, ())) for day in range(7))
        weekly_hours = MappingProxyType(
            {
                day: tuple((_time_from_us(s), _time_from_us(e)) for s, e in week_us[day])
                for day in range(7)
            }
        )

        if self.holiday_subdivision is not None and self.holiday_country is None:
            raise ValueError("holiday_subdivision needs a holiday_country")
        if self.holiday_country is not None:
            _check_holiday_region(self.holiday_country, self.holiday_subdivision)
        added = self._date_set(self.added_holidays, "added_holidays")
        removed = self._date_set(self.removed_holidays, "removed_holidays")
        if added & removed:
            raise ValueError(f"dates both added and removed as holidays: {sorted(added & removed)}")

        set_field = object.__setattr__  # the documented way to finish a frozen dataclass
        set_field(self, "weekly_hours", weekly_hours)
        set_field(self, "added_holidays", added)
        set_field(self, "removed_holidays", removed)
        set_field(self, "_zone", zone)
        set_field(self, "_week_us", week_us)
        set_field(
            self,
            "_always_open",
            all(days == ((0, _US_PER_DAY),) for days in week_us)
            and self.holiday_country is None
            and not added,
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.timezone,
                self._week_us,
                self.holiday_country,
                self.holiday_subdivision,
                self.added_holidays,
                self.removed_holidays,
            )
        )

    def __reduce__(self) -> tuple[type[BusinessCalendar], tuple[object, ...]]:
        # mappingproxy cannot be pickled or deep-copied; rebuild from the constructor arguments.
        return (
            type(self),
            (
                self.timezone,
                dict(self.weekly_hours),
                self.holiday_country,
                self.holiday_subdivision,
                self.added_holidays,
                self.removed_holidays,
            ),
        )

    @staticmethod
    def _date_set(values: Iterable[date], name: str) -> frozenset[date]:
        dates = frozenset(values)
        for value in dates:
            if isinstance(value, datetime) or not isinstance(value, date):
                raise ValueError(f"{name} must hold dates, got {value!r}")
        return dates

    @classmethod
    def twenty_four_seven(cls, timezone: str = "UTC") -> BusinessCalendar:
        """Every instant is business time (no holidays)."""
        return cls(timezone=timezone, weekly_hours=dict.fromkeys(range(7), _WHOLE_DAY))

    @classmethod
    def office_hours(
        cls,
        timezone: str,
        *,
        start: time = time(9, 0),
        end: time = time(17, 0),
        weekdays: Iterable[int] = range(5),
        holiday_country: str | None = None,
        holiday_subdivision: str | None = None,
        added_holidays: Iterable[date] = (),
        removed_holidays: Iterable[date] = (),
    ) -> BusinessCalendar:
        """One window per working day; by default Monday to Friday, 09:00-17:00."""
        return cls(
            timezone=timezone,
            weekly_hours=dict.fromkeys(weekdays, ((start, end),)),
            holiday_country=holiday_country,
            holiday_subdivision=holiday_subdivision,
            added_holidays=frozenset(added_holidays),
            removed_holidays=frozenset(removed_holidays),
        )

    @property
    def has_working_time(self) -> bool:
        return any(self._week_us)

    def is_holiday(self, local_date: date) -> bool:
        """Whether ``local_date`` (a date in the calendar's zone) is a holiday."""
        if isinstance(local_date, datetime) or not isinstance(local_date, date):
            raise ValueError(f"is_holiday needs a date, got {local_date!r}")
        return self._is_holiday(local_date)

    def _is_holiday(self, local_date: date) -> bool:
        if local_date in self.added_holidays:
            return True
        if self.holiday_country is None or local_date in self.removed_holidays:
            return False
        return local_date in _country_holiday_dates(
            self.holiday_country, self.holiday_subdivision, local_date.year
        )

    def is_business_time(self, instant: datetime) -> bool:
        """Whether the clock runs at ``instant`` (an aware datetime)."""
        local = _require_aware(instant, "instant").astimezone(self._zone)
        if self._is_holiday(local.date()):
            return False
        of_day = _time_of_day_us(local.time())
        return any(s <= of_day < e for s, e in self._week_us[local.weekday()])


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _to_us(value: datetime, name: str) -> int:
    return (_require_aware(value, name) - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _offset_us(zone: ZoneInfo, us: int) -> int:
    return _from_us(us).astimezone(zone).utcoffset() // _ONE_US


@lru_cache(maxsize=1 << 16)
def _offset_at_day_end_us(zone: ZoneInfo, us: int) -> int:
    # Day ends recur across calls (every ticket in a backfill crosses the same midnights).
    return _offset_us(zone, us)


def _next_offset_change(zone: ZoneInfo, low: int, high: int, offset: int) -> int:
    """First instant in (low, high] whose offset is not ``offset``; offset(low) == offset."""
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_us(zone, middle) == offset:
            low = middle
        else:
            high = middle
    return high


def _business_intervals(
    calendar: BusinessCalendar, start: int, end: int | None
) -> Iterator[tuple[int, int]]:
    """Business time in [start, end) as ascending, disjoint UTC microsecond intervals.

    ``end=None`` walks on forever; it raises ValueError after a long stretch with no business time.
    """
    if calendar._always_open:
        yield start, _LAST_US if end is None else end
        return
    if not calendar.has_working_time:
        if end is None:
            raise NoBusinessTime("the calendar has no working time at all")
        return
    zone = calendar._zone
    week = calendar._week_us
    cursor = start
    offset = _offset_us(zone, cursor)
    idle_days = 0
    while end is None or cursor < end:
        # One chunk: the rest of the current local day, at a constant UTC offset.
        local_start = cursor + offset
        day = local_start // _US_PER_DAY
        day_start = day * _US_PER_DAY
        chunk_end = day_start + _US_PER_DAY - offset
        if end is not None and end < chunk_end:
            chunk_end = end
            next_offset = _offset_us(zone, chunk_end)
        else:
            next_offset = _offset_at_day_end_us(zone, chunk_end)
        if next_offset != offset:
            chunk_end = _next_offset_change(zone, cursor, chunk_end, offset)
            next_offset = _offset_us(zone, chunk_end)
        windows = week[(day + _EPOCH_WEEKDAY) % 7]
        found = False
        if windows and not calendar._is_holiday(date.fromordinal(_EPOCH_ORDINAL + day)):
            local_end = chunk_end + offset
            for window_start, window_end in windows:
                low = max(day_start + window_start, local_start)
                high = min(day_start + window_end, local_end)
                if low < high:
                    found = True
                    yield low - offset, high - offset
        if found:
            idle_days = 0
        elif end is None:
            idle_days += 1
            if idle_days > _MAX_IDLE_DAYS:
                raise NoBusinessTime(f"no business time in {_MAX_IDLE_DAYS} consecutive days")
        cursor, offset = chunk_end, next_offset


def _merged_pauses(pauses: Iterable[Pause]) -> Sequence[tuple[int, int | None]]:
    """Pauses as the arithmetic uses them: merged, sorted, in UTC microseconds."""
    spans: list[tuple[int, int | None]] = []
    for pause in pauses:
        pause_start, pause_end = pause
        start_us = _to_us(pause_start, "pause start")
        end_us = None if pause_end is None else _to_us(pause_end, "pause end")
        if end_us is not None and end_us < start_us:
            raise ValueError(
                f"pause ends before it starts: {pause_start.isoformat()} > {pause_end.isoformat()}"
            )
        if end_us != start_us:
            spans.append((start_us, end_us))
    spans.sort(key=lambda span: span[0])
    merged: list[tuple[int, int | None]] = []
    for start_us, end_us in spans:
        if merged and (merged[-1][1] is None or start_us <= merged[-1][1]):
            last_start, last_end = merged[-1]
            if last_end is not None:
                merged[-1] = (last_start, None if end_us is None else max(last_end, end_us))
        else:
            merged.append((start_us, end_us))
    return merged


def _running_stretches(
    start: int, end: int | None, pauses: Sequence[tuple[int, int | None]]
) -> Iterator[tuple[int, int | None]]:
    """The parts of [start, end) outside every pause; the last may be open (end None)."""
    cursor = start
    for pause_start, pause_end in pauses:
        if pause_end is not None and pause_end <= cursor:
            continue
        if end is not None and pause_start >= end:
            break
        if pause_start > cursor:
            yield cursor, pause_start
        if pause_end is None:
            return
        cursor = max(cursor, pause_end)
    if end is None or cursor < end:
        yield cursor, end


def _checked_minutes(minutes: float, name: str) -> int:
    # Plain ints and floats first: the abstract checks below cost more than the arithmetic.
    kind = type(minutes)
    if kind is int and minutes >= 0:
        return minutes * _US_PER_MINUTE
    if kind is float and 0 <= minutes < math.inf:
        return round(minutes * _US_PER_MINUTE)
    if isinstance(minutes, bool) or not isinstance(minutes, numbers.Real):
        raise ValueError(f"{name} must be a number of minutes, got {minutes!r}")
    if not math.isfinite(minutes) or minutes < 0:
        raise ValueError(f"{name} must be a finite, non-negative number, got {minutes!r}")
    if isinstance(minutes, numbers.Integral):
        return int(minutes) * _US_PER_MINUTE
    return round(float(minutes) * _US_PER_MINUTE)


def business_minutes_between(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    *,
    pauses: Iterable[Pause] = (),
) -> float:
    """Business minutes in [start, end) outside every pause; 0 when end <= start.

    A pause is ``(pause_start, pause_end)``; ``pause_end=None`` means it is still open, i.e. runs
    to ``end``.
    """
    start_us, end_us = _to_us(start, "start"), _to_us(end, "end")
    return _minutes_between(calendar, start_us, end_us, _merged_pauses(pauses))


def _minutes_between(
    calendar: BusinessCalendar, start_us: int, end_us: int, merged: Sequence[tuple[int, int | None]]
) -> float:
    if end_us <= start_us:
        return 0.0
    total = 0
    for stretch_start, stretch_end in _running_stretches(start_us, end_us, merged):
        for low, high in _business_intervals(calendar, stretch_start, stretch_end):
            total += high - low
    return total / _US_PER_MINUTE


def _add(
    calendar: BusinessCalendar, start: datetime, minutes: float, pauses: Iterable[Pause]
) -> datetime | None:
    start_us = _to_us(start, "start")
    remaining = _checked_minutes(minutes, "minutes")
    return _added(calendar, start, start_us, remaining, _merged_pauses(pauses))


def _added(
    calendar: BusinessCalendar,
    start: datetime,
    start_us: int,
    remaining: int,
    merged: Sequence[tuple[int, int | None]],
) -> datetime | None:
    if remaining == 0:
        return start.astimezone(UTC)
    if not calendar.has_working_time:
        raise NoBusinessTime("the calendar has no working time at all")
    for stretch_start, stretch_end in _running_stretches(start_us, None, merged):
        for low, high in _business_intervals(calendar, stretch_start, stretch_end):
            if high - low >= remaining:
                return _from_us(low + remaining)
            remaining -= high - low
    return None  # an open-ended pause stopped the clock first


def add_business_minutes(
    calendar: BusinessCalendar,
    start: datetime,
    minutes: float,
    *,
    pauses: Iterable[Pause] = (),
) -> datetime:
    """The earliest instant t with ``business_minutes_between(calendar, start, t) == minutes``.

    ``minutes == 0`` returns ``start`` itself (in UTC), even outside business time, as ServiceNow
    does. A target that ends exactly where a window ends returns that window's end (17:00), not
    the next window's start. Raises ValueError when the calendar has no working time, or when an
    open-ended pause stops the clock before the target is reached.
    """
    result = _add(calendar, start, minutes, pauses)
    if result is None:
        raise ValueError(_PAUSED_FOR_GOOD)
    return result


_PAUSED_FOR_GOOD = "an open-ended pause stops the clock before the target is reached"


class Clock:
    """One timer's clock: ``calendar``'s business time from ``start``, standing still in
    ``pauses``. Answers what ``business_minutes_between`` and ``add_business_minutes`` answer
    with these arguments, the same arithmetic, with the start and the pauses converted once (a
    replay asks each timer's clock five questions or more)."""

    __slots__ = ("_pauses", "_start_us", "calendar", "start")

    def __init__(self, calendar: BusinessCalendar, start: datetime, pauses: Iterable[Pause] = ()):
        self.calendar = calendar
        self.start = start
        self._start_us = _to_us(start, "start")
        self._pauses = _merged_pauses(pauses)

    def minutes_until(self, end: datetime) -> float:
        """``business_minutes_between(calendar, start, end, pauses=pauses)``."""
        return _minutes_between(self.calendar, self._start_us, _to_us(end, "end"), self._pauses)

    def add(self, minutes: float) -> datetime:
        """``add_business_minutes(calendar, start, minutes, pauses=pauses)``."""
        remaining = _checked_minutes(minutes, "minutes")
        result = _added(self.calendar, self.start, self._start_us, remaining, self._pauses)
        if result is None:
            raise ValueError(_PAUSED_FOR_GOOD)
        return result


def due_at(
    calendar: BusinessCalendar,
    start: datetime,
    target_minutes: float,
    *,
    pauses: Iterable[Pause] = (),
) -> datetime | None:
    """When an SLA timer started at ``start`` breaches: None while an open pause holds it."""
    return _add(calendar, start, target_minutes, pauses)


def percent_elapsed(
    calendar: BusinessCalendar,
    start: datetime,
    now: datetime,
    target_minutes: float,
    *,
    pauses: Iterable[Pause] = (),
) -> float:
    """Business time used so far as a percentage of the target (above 100 once breached)."""
    if _checked_minutes(target_minutes, "target_minutes") == 0:
        raise ValueError("target_minutes must be positive")
    elapsed = business_minutes_between(calendar, start, now, pauses=pauses)
    return 100.0 * elapsed / target_minutes
