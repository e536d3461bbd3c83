"""Conditions, evaluated on plain records: fields and custom fields, what changed, all / any /
not, and time in a state counted on a business calendar."""

from datetime import UTC, date, datetime, time
from types import SimpleNamespace

import pytest

from operational.automation.conditions import Facts, business_days_between, holds
from operational.sla.businesstime import BusinessCalendar

NOW = datetime(2031, 6, 13, 12, 0, tzinfo=UTC)  # a Friday
OFFICE = BusinessCalendar(
    timezone="Europe/Amsterdam",
    weekly_hours={day: ((time(9), time(17)),) for day in range(5)},
)


def record(**fields):
    fields.setdefault("custom_fields", {"site": "Rotterdam", "asset_tag": "A-7"})
    return SimpleNamespace(**fields)


def facts(changes=None, since=None, **fields):
    return Facts(
        record=record(**fields),
        now=NOW,
        changes=changes or {},
        state_since=(lambda: since) if since else None,
        calendar=lambda calendar_id: OFFICE,
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "priority", "value": 1}, True),
        ({"field": "priority", "value": "1"}, True),
        ({"field": "priority", "op": "ne", "value": 1}, False),
        ({"field": "priority", "op": "lte", "value": 2}, True),
        ({"field": "priority", "op": "gt", "value": 1}, False),
        ({"field": "category", "value": "NETWORK"}, True),
        ({"field": "category", "op": "in", "value": ["Network", "VPN"]}, True),
        ({"field": "category", "op": "not_in", "value": ["Network", "VPN"]}, False),
        ({"field": "title", "op": "contains", "value": "vpn"}, True),
        ({"field": "title", "op": "mentions", "value": ["wi-fi", "vpn"]}, True),
        ({"field": "title", "op": "mentions", "value": "VPN"}, True),
        ({"field": "title", "op": "mentions", "value": ["vp"]}, False),  # whole words only
        ({"field": "title", "op": "mentions", "value": ["down in"]}, False),
        ({"field": "description", "op": "mentions", "value": ["vpn"]}, False),
        ({"field": "description", "op": "is_empty"}, True),
        ({"field": "description", "op": "is_set"}, False),
        ({"field": "cf.site", "value": "rotterdam"}, True),
        ({"field": "cf.site", "op": "in", "value": ["Amsterdam", "Utrecht"]}, False),
        ({"field": "cf.missing", "op": "is_empty"}, True),
        (
            {"all": [{"field": "priority", "value": 1}, {"field": "cf.asset_tag", "value": "A-7"}]},
            True,
        ),
        (
            {"all": [{"field": "priority", "value": 1}, {"field": "category", "value": "Email"}]},
            False,
        ),
        (
            {"any": [{"field": "priority", "value": 2}, {"field": "category", "value": "Network"}]},
            True,
        ),
        ({"not": {"field": "priority", "value": 1}}, False),
        ({"field": "opened_at", "op": "lt", "value": "2031-06-13T00:00:00+00:00"}, True),
        (None, True),
    ],
)
def test_field_conditions(condition, expected):
    given = facts(
        priority=1,
        category="Network",
        title="VPN down",
        description=None,
        opened_at=datetime(2031, 6, 12, tzinfo=UTC),
    )
    assert holds(condition, given) is expected


def test_changed_conditions_look_at_this_change_only():
    changed = facts(changes={"priority": (3, 1)}, priority=1)
    assert holds({"changed": "priority"}, changed)
    assert holds({"changed": "priority", "to": 1}, changed)
    assert holds({"changed": "priority", "from": 3, "to": 1}, changed)
    assert not holds({"changed": "priority", "to": 2}, changed)
    assert not holds({"changed": "priority", "from": 2}, changed)
    assert not holds({"changed": "category"}, changed)
    assert not holds({"changed": "priority"}, facts(priority=1))  # a scheduled run: no change


def test_business_days_skip_weekends_and_holidays():
    monday = datetime(2031, 6, 2, 10, tzinfo=UTC)
    assert business_days_between(OFFICE, monday, datetime(2031, 6, 6, 16, tzinfo=UTC)) == 4
    assert business_days_between(OFFICE, monday, datetime(2031, 6, 8, 16, tzinfo=UTC)) == 4
    assert business_days_between(OFFICE, monday, datetime(2031, 6, 9, 8, tzinfo=UTC)) == 5
    with_holiday = BusinessCalendar(
        timezone="Europe/Amsterdam",
        weekly_hours={day: ((time(9), time(17)),) for day in range(5)},
        added_holidays=frozenset({date(2031, 6, 4)}),
    )
    assert business_days_between(with_holiday, monday, datetime(2031, 6, 9, 8, tzinfo=UTC)) == 4


def test_state_for_business_days_and_hours():
    on_hold_since = datetime(2031, 6, 6, 10, tzinfo=UTC)  # Friday a week before NOW
    waiting = facts(since=on_hold_since, state="on_hold", hold_reason="awaiting_caller")
    assert holds({"in_state": "on_hold", "for_business_days": 5}, waiting)
    assert not holds({"in_state": "on_hold", "for_business_days": 6}, waiting)
    assert holds(
        {"in_state": "on_hold", "hold_reason": "awaiting_caller", "for_business_days": 5}, waiting
    )
    assert not holds(
        {"in_state": "on_hold", "hold_reason": "awaiting_vendor", "for_business_days": 5}, waiting
    )
    assert not holds({"in_state": "in_progress", "for_business_days": 1}, waiting)
    # Friday 12:00 (CEST) to 17:00, then 4 days of 8 hours, then 9:00 to 14:00 today: 42 hours.
    assert holds({"in_state": "on_hold", "for_business_hours": 42}, waiting)
    assert not holds({"in_state": "on_hold", "for_business_hours": 42.5}, waiting)
