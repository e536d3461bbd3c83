"""Conditions, evaluated against one record: pure functions over the record, what changed, the
time, and two lookups the caller provides (when the record entered its state; a business
calendar). ``check_fields`` refuses a rule naming a field its record type does not have."""

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import inspect

from operational.automation.enums import Operator
from operational.sla.businesstime import BusinessCalendar, business_minutes_between
from operational.tickets.hooks import custom_fields_of

CUSTOM_PREFIX = "cf."
# What a ``commented`` rule's conditions may read of the comment that triggered it: its text, and
# whether it is public (a comment) or not (a work note).
COMMENT_FIELDS = frozenset({"comment.body", "comment.public"})
# Columns that are not the record's fields: never named by a rule.
HIDDEN_COLUMNS = frozenset({"search_vector", "custom_fields"})


@dataclass
class Facts:
    """What a condition may look at."""

    record: Any
    now: datetime
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    # () -> when the record entered its current state
    state_since: Callable[[], datetime] | None = None
    # calendar_id or None -> the calendar to count business time on
    calendar: Callable[[int | None], BusinessCalendar] | None = None
    # The comment a ``commented`` trigger is about (``COMMENT_FIELDS`` without the prefix)
    comment: Mapping[str, Any] = field(default_factory=dict)


def record_fields(model: type) -> frozenset[str]:
    return frozenset(
        attribute.key
        for attribute in inspect(model).column_attrs
        if attribute.key not in HIDDEN_COLUMNS
    )


def _fact(facts: Facts, name: str) -> Any:
    if name in COMMENT_FIELDS:
        return facts.comment.get(name.removeprefix("comment."))
    return value_of(facts.record, name)


def value_of(record: Any, name: str) -> Any:
    if name.startswith(CUSTOM_PREFIX):
        return custom_fields_of(record).get(name[len(CUSTOM_PREFIX) :])
    return getattr(record, name, None)


def names_in(condition: Mapping[str, Any] | None) -> Iterator[str]:
    """Every field a condition (as JSON) names."""
    if not condition:
        return
    for key in ("all", "any"):
        for part in condition.get(key, ()):
            yield from names_in(part)
    if "not" in condition:
        yield from names_in(condition["not"])
    for key in ("field", "changed"):
        if key in condition:
            yield condition[key]
    if "in_state" in condition:
        yield "state"


def unknown_fields(names: Iterator[str] | list[str], known: frozenset[str]) -> list[str]:
    return sorted(
        {
            name
            for name in names
            if not (name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX))
            and name not in known
        }
    )


# ------------------------------------------------------------------------------- comparing


def mentions(text: Any, words: Any) -> bool:
    """Whether ``text`` holds one of ``words`` (a list, or one) as a whole word, ignoring case:
    "VPN" is in "the vpn is down", not in "vpns"."""
    if not isinstance(text, str):
        return False
    for word in words if isinstance(words, list | tuple) else [words]:
        word = str(word).strip() if word is not None else ""
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE):
            return True
    return False


def _plain(value: Any) -> Any:
    value = value.value if hasattr(value, "value") else value
    return value.casefold() if isinstance(value, str) else value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _ordered(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both as numbers, or both as instants or dates, or both as text; None when they do not
    compare."""
    numbers = _number(left), _number(right)
    if None not in numbers:
        return numbers
    if isinstance(left, datetime | str) and isinstance(right, datetime | str):
        instants = _instant(left), _instant(right)
        if None not in instants:
            return instants
    if isinstance(left, date) and isinstance(right, str):
        try:
            return left, date.fromisoformat(right)
        except ValueError:
            return None
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold(), right.casefold()
    return None


def equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    pair = _ordered(left, right)
    if pair is not None:
        return pair[0] == pair[1]
    return _plain(left) == _plain(right)


def compare(op: Operator | str, left: Any, right: Any) -> bool:
    op = Operator(op)
    if op == Operator.is_empty:
        return left is None or left == "" or left == [] or left == {}
    if op == Operator.is_set:
        return not compare(Operator.is_empty, left, right)
    if op == Operator.eq:
        return equal(left, right)
    if op == Operator.ne:
        return not equal(left, right)
    if op in (Operator.in_, Operator.not_in):
        options = right if isinstance(right, list | tuple) else [right]
        found = any(equal(left, option) for option in options)
        return found if op == Operator.in_ else not found
    if op == Operator.mentions:
        return mentions(left, right)
    if op == Operator.contains:
        if isinstance(left, list | tuple):
            return any(equal(item, right) for item in left)
        if isinstance(left, str) and right is not None:
            return str(right).casefold() in left.casefold()
        return False
    if left is None or right is None:
        return False
    pair = _ordered(left, right)
    if pair is None:
        return False
    low, high = pair
    return {
        Operator.gt: low > high,
        Operator.gte: low >= high,
        Operator.lt: low < high,
        Operator.lte: low <= high,
    }[op]


# ------------------------------------------------------------------------------ business time


def business_days_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Working days after the day of ``start`` up to and including the day of ``end`` (local
    dates of the calendar's zone): a day with working hours that is no holiday."""
    zone = calendar._zone  # the calendar's own ZoneInfo, built once
    first = start.astimezone(zone).date() + timedelta(days=1)
    last = end.astimezone(zone).date()
    days = 0
    current = first
    while current <= last:
        if calendar.weekly_hours.get(current.weekday()) and not calendar.is_holiday(current):
            days += 1
        current += timedelta(days=1)
    return days


def _state_for(condition: Mapping[str, Any], facts: Facts) -> bool:
    record = facts.record
    if not equal(getattr(record, "state", None), condition["in_state"]):
        return False
    if condition.get("hold_reason") and not equal(
        getattr(record, "hold_reason", None), condition["hold_reason"]
    ):
        return False
    if facts.state_since is None or facts.calendar is None:
        return False
    since = facts.state_since()
    calendar = facts.calendar(condition.get("calendar_id"))
    if condition.get("for_business_days") is not None:
        return business_days_between(calendar, since, facts.now) >= condition["for_business_days"]
    minutes = business_minutes_between(calendar, since, facts.now)
    return minutes >= condition["for_business_hours"] * 60


# ----------------------------------------------------------------------------- evaluating


def holds(condition: Mapping[str, Any] | None, facts: Facts) -> bool:
    """Whether the condition (as stored JSON) holds; None holds always."""
    if not condition:
        return True
    if "all" in condition:
        return all(holds(part, facts) for part in condition["all"])
    if "any" in condition:
        return any(holds(part, facts) for part in condition["any"])
    if "not" in condition:
        return not holds(condition["not"], facts)
    if "changed" in condition:
        name = condition["changed"]
        if name not in facts.changes:
            return False
        old, new = facts.changes[name]
        if "from" in condition and not equal(old, condition["from"]):
            return False
        return not ("to" in condition and not equal(new, condition["to"]))
    if "in_state" in condition:
        return _state_for(condition, facts)
    return compare(
        condition.get("op", Operator.eq),
        _fact(facts, condition["field"]),
        condition.get("value"),
    )
