"""Occurrences of (possibly recurring) blackout windows, via python-dateutil's RFC 5545 RRULE.

A window's first occurrence is ``starts_at``-``ends_at``. The rule repeats it in the window's
time zone on the wall clock: "FREQ=WEEKLY;BYDAY=SA" from Saturday 22:00 to Sunday 06:00
Europe/Berlin stays 22:00-06:00 Berlin time in summer and winter.

Accepted: FREQ=YEARLY|MONTHLY|WEEKLY|DAILY with INTERVAL, COUNT, UNTIL (local time, no Z),
BYDAY, BYMONTHDAY, BYMONTH, BYSETPOS. Finer frequencies and DTSTART are refused.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from operational.changes.exceptions import InvalidRecurrence

ALLOWED_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"}
)
ALLOWED_FREQUENCIES = frozenset({"YEARLY", "MONTHLY", "WEEKLY", "DAILY"})


@dataclass(frozen=True)
class Occurrence:
    starts_at: datetime
    ends_at: datetime


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidRecurrence(f"Unknown time zone {name!r}", timezone=name) from exc


def normalize(rule: str) -> str:
    """The rule without an ``RRULE:`` prefix, upper-cased; raises InvalidRecurrence."""
    text = rule.strip().upper().removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        key, separator, value = item.partition("=")
        if not separator or not value:
            raise InvalidRecurrence(f"{item!r} is not NAME=VALUE", rrule=rule)
        if key not in ALLOWED_PARTS:
            raise InvalidRecurrence(
                f"{key} is not supported; use {', '.join(sorted(ALLOWED_PARTS))}", rrule=rule
            )
        parts[key] = value
    if parts.get("FREQ") not in ALLOWED_FREQUENCIES:
        raise InvalidRecurrence(
            f"FREQ must be one of {', '.join(sorted(ALLOWED_FREQUENCIES))}", rrule=rule
        )
    if parts.get("UNTIL", "").endswith("Z"):
        raise InvalidRecurrence("UNTIL is local time in the window's time zone: drop the Z")
    return text


def _rule(rule: str, local_start: datetime) -> rrule:
    try:
        parsed = rrulestr(rule, dtstart=local_start)
    except (ValueError, TypeError) as exc:
        raise InvalidRecurrence(f"Cannot read the rule: {exc}", rrule=rule) from exc
    if not isinstance(parsed, rrule):  # several rules, or RDATE/EXDATE lines: a set
        raise InvalidRecurrence("Give one RRULE (no RDATE, EXDATE or second rule)", rrule=rule)
    return parsed


def check(*, rule: str | None, starts_at: datetime, timezone: str) -> str | None:
    """Validate a window's rule and zone; the normalized rule (or None)."""
    tz = zone(timezone)
    if rule is None or not rule.strip():
        return None
    normalized = normalize(rule)
    local_start = starts_at.astimezone(tz).replace(tzinfo=None)
    if _rule(normalized, local_start).after(local_start, inc=True) is None:
        raise InvalidRecurrence("The rule never occurs", rrule=rule)
    return normalized


def occurrences(
    *,
    starts_at: datetime,
    ends_at: datetime,
    timezone: str,
    rule: str | None,
    window_start: datetime,
    window_end: datetime,
) -> list[Occurrence]:
    """Occurrences that overlap [window_start, window_end), in UTC-aware datetimes."""
    if rule is None:
        if starts_at < window_end and ends_at > window_start:
            return [Occurrence(starts_at.astimezone(UTC), ends_at.astimezone(UTC))]
        return []
    tz = zone(timezone)
    local_start = starts_at.astimezone(tz).replace(tzinfo=None)
    local_length = ends_at.astimezone(tz).replace(tzinfo=None) - local_start
    # A day of slack each side absorbs offset changes; exact overlap is checked below.
    search_from = window_start.astimezone(tz).replace(tzinfo=None) - local_length
    search_to = window_end.astimezone(tz).replace(tzinfo=None)
    found = []
    for local in _rule(rule, local_start).between(
        search_from - timedelta(days=1), search_to + timedelta(days=1), inc=True
    ):
        start = local.replace(tzinfo=tz)
        end = (local + local_length).replace(tzinfo=tz)
        if start < window_end and end > window_start:
            found.append(Occurrence(start.astimezone(UTC), end.astimezone(UTC)))
    return found
