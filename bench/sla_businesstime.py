"""Throughput of the business-time arithmetic (operational/sla/businesstime.py).

Run: python bench/sla_businesstime.py [calls per case]
Prints calls per second for add_business_minutes and business_minutes_between; no asserts.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from operational.sla.businesstime import (
    BusinessCalendar,
    add_business_minutes,
    business_minutes_between,
)

OFFICE_NL = BusinessCalendar.office_hours("Europe/Amsterdam", holiday_country="NL")
OFFICE_NY = BusinessCalendar.office_hours(
    "America/New_York", holiday_country="US", holiday_subdivision="NY"
)
ALWAYS = BusinessCalendar.twenty_four_seven("Europe/Amsterdam")


def random_instants(count: int) -> list[datetime]:
    rng = random.Random(20260427)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    return [first + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60)) for _ in range(count)]


def measure(label: str, calls: int, call: Callable[[int], object]) -> None:
    started = time.perf_counter()
    for index in range(calls):
        call(index)
    elapsed = time.perf_counter() - started
    print(f"{label:<62} {calls / elapsed:>10,.0f} calls/s {elapsed / calls * 1e6:>8.1f} µs/call")


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    starts = random_instants(calls)
    ends = [start + timedelta(days=7) for start in starts]
    pauses = [[(start + timedelta(hours=3), start + timedelta(hours=30))] for start in starts]
    print(f"{calls} calls per case, random instants in 2024-2026\n")
    measure(
        "add 2400 min (5 days), NL office hours + holidays",
        calls,
        lambda i: add_business_minutes(OFFICE_NL, starts[i], 2400),
    )
    measure(
        "add 2400 min (5 days), US-NY office hours + holidays",
        calls,
        lambda i: add_business_minutes(OFFICE_NY, starts[i], 2400),
    )
    measure(
        "add 240 min (4 hours), NL office hours + holidays",
        calls,
        lambda i: add_business_minutes(OFFICE_NL, starts[i], 240),
    )
    measure(
        "add 2400 min, NL office hours, one 27-hour pause",
        calls,
        lambda i: add_business_minutes(OFFICE_NL, starts[i], 2400, pauses=pauses[i]),
    )
    measure(
        "add 2400 min, 24x7 Europe/Amsterdam",
        calls,
        lambda i: add_business_minutes(ALWAYS, starts[i], 2400),
    )
    measure(
        "between, 7-day span, NL office hours + holidays",
        calls,
        lambda i: business_minutes_between(OFFICE_NL, starts[i], ends[i]),
    )
    measure(
        "between, 7-day span, NL office hours, one 27-hour pause",
        calls,
        lambda i: business_minutes_between(OFFICE_NL, starts[i], ends[i], pauses=pauses[i]),
    )
    measure(
        "between, 7-day span, 24x7 Europe/Amsterdam",
        calls,
        lambda i: business_minutes_between(ALWAYS, starts[i], ends[i]),
    )


if __name__ == "__main__":
    main()
