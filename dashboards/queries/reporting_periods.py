"""Periods as dbt cuts them: calendar days, ISO weeks from Monday and months (date arithmetic,
no SQL)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any


def period_start(day: date, grain: str) -> date:
    """Start of the day, ISO week (Monday) or month holding ``day``, as dbt cuts periods."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def next_period(start: date, grain: str) -> date:
    if grain == "week":
        return start + timedelta(days=7)
    if grain == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def previous_period(start: date, grain: str) -> date:
    if grain == "week":
        return start - timedelta(days=7)
    if grain == "month":
        return (start - timedelta(days=1)).replace(day=1)
    return start - timedelta(days=1)


def periods(filters: Any) -> list[date]:
    """Period starts that overlap the date range, newest first."""
    found = []
    current = period_start(filters.start, filters.grain)
    while current <= filters.end:
        found.append(current)
        current = next_period(current, filters.grain)
    return found[::-1]
