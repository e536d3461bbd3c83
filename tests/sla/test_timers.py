"""Timers replayed from the event log: due dates, pauses, re-targeting, reopen, warnings, breach.

Every expected instant below is computed by hand in the comment next to it.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from operational.incidents import flows as incident_flows
from operational.sla import timers as sla_timers
from operational.sla.models import SlaAlert
from tests.sla.conftest import OFFICE_HOURS

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


# --- due dates -----------------------------------------------------------------------------


def test_due_dates_skip_the_weekend(sla):
    calendar = sla.calendar(timezone="Europe/Amsterdam", weekly_hours=OFFICE_HOURS)
    sla.policy(calendar=calendar, response=60, resolution=240)
    # Friday 6 March 2026, 15:00 in Amsterdam (CET, UTC+1).
    incident = sla.incident(opened_at=local(AMSTERDAM, 2026, 3, 6, 15, 0))

    timers = sla.recompute(incident, now=local(AMSTERDAM, 2026, 3, 7, 12, 0))  # Saturday noon

    # Response: 60 minutes of Friday afternoon, 15:00 -> 16:00.
    assert timers["response"].due_at == local(AMSTERDAM, 2026, 3, 6, 16, 0)
    # Resolution: 2 h on Friday (15:00-17:00), the other 2 h on Monday 09:00-11:00.
    assert timers["resolution"].due_at == local(AMSTERDAM, 2026, 3, 9, 11, 0)
    assert timers["resolution"].elapsed_minutes == 120
    assert timers["resolution"].state == "running"
    assert timers["resolution"].started_at == local(AMSTERDAM, 2026, 3, 6, 15, 0)


def test_due_dates_skip_public_holidays_and_honour_added_and_removed_dates(sla):
    # Monday 27 April 2026 is King's Day, a public holiday in the Netherlands.
    opened = local(AMSTERDAM, 2026, 4, 24, 16, 0)  # Friday, CEST (UTC+2)
    dutch = sla.calendar(
        timezone="Europe/Amsterdam", weekly_hours=OFFICE_HOURS, holiday_country="NL"
    )
    without_kings_day = sla.calendar(
        timezone="Europe/Amsterdam",
        weekly_hours=OFFICE_HOURS,
        holiday_country="nl",
        removed_holidays=[date(2026, 4, 27)],
    )
    extra_day_off = sla.calendar(
        timezone="Europe/Amsterdam",
        weekly_hours=OFFICE_HOURS,
        holiday_country="NL",
        added_holidays=[date(2026, 4, 28)],
    )
    due = {}
    for name, calendar in (
        ("dutch", dutch),
        ("without", without_kings_day),
        ("extra", extra_day_off),
    ):
        sla.policy(calendar=calendar, resolution=240, service=name)
        incident = sla.incident(opened_at=opened, service=name)
        due[name] = sla.recompute(incident, now=opened)["resolution"].due_at

    # 1 h on Friday, then 3 h: Tuesday 28th 09:00-12:00 (Monday is King's Day).
    assert due["dutch"] == local(AMSTERDAM, 2026, 4, 28, 12, 0)
    # King's Day removed: Monday 27th 12:00.
    assert due["without"] == local(AMSTERDAM, 2026, 4, 27, 12, 0)
    # Tuesday added as a holiday too: Wednesday 29th 12:00.
    assert due["extra"] == local(AMSTERDAM, 2026, 4, 29, 12, 0)


def test_due_dates_across_daylight_saving_time(sla):
    # New York springs forward on Sunday 8 March 2026 (EST UTC-5 -> EDT UTC-4).
    office = sla.calendar(timezone="America/New_York", weekly_hours=OFFICE_HOURS)
    sla.policy(calendar=office, resolution=120, service="office")
    friday = sla.incident(opened_at=local(NEW_YORK, 2026, 3, 6, 16, 0), service="office")
    # 1 h Friday 16:00-17:00, 1 h Monday 09:00-10:00 EDT = 14:00 UTC (not 15:00).
    due = sla.recompute(friday, now=friday.opened_at)["resolution"].due_at
    assert due == utc(2026, 3, 9, 14, 0)

    # Amsterdam springs forward on Sunday 29 March 2026: a 24x7 day holds 23 wall-clock hours.
    round_the_clock = sla.calendar(timezone="Europe/Amsterdam")
    sla.policy(calendar=round_the_clock, resolution=24 * 60, service="24x7")
    saturday = sla.incident(opened_at=local(AMSTERDAM, 2026, 3, 28, 12, 0), service="24x7")
    due = sla.recompute(saturday, now=saturday.opened_at)["resolution"].due_at
    # 24 real hours: 11:00 UTC on Sunday, which is 13:00 CEST on the wall clock.
    assert due == utc(2026, 3, 29, 11, 0)
    assert due.astimezone(AMSTERDAM).hour == 13


# --- pause and resume ----------------------------------------------------------------------


def test_on_hold_awaiting_caller_pauses_the_clock_and_resumes_it(sla):
    sla.policy(response=120, resolution=480)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    sla.move(incident, utc(2026, 6, 1, 9, 0), "in_progress", first_response=True)
    sla.move(incident, utc(2026, 6, 1, 10, 0), "on_hold", hold_reason="awaiting_caller")

    paused = sla.recompute(incident, now=utc(2026, 6, 1, 11, 0))["resolution"]
    assert paused.state == "paused"
    assert paused.due_at is None  # the deadline moves while the clock stands still
    assert paused.elapsed_minutes == 120  # 08:00-10:00
    assert paused.paused_minutes == 60  # 10:00-11:00

    sla.move(incident, utc(2026, 6, 1, 13, 0), "in_progress")
    resumed = sla.recompute(incident, now=utc(2026, 6, 1, 13, 30))["resolution"]
    assert resumed.state == "running"
    # 8 h target from 08:00 plus the 3 h hold: 19:00.
    assert resumed.due_at == utc(2026, 6, 1, 19, 0)
    assert resumed.elapsed_minutes == 150
    assert resumed.paused_minutes == 180

    sla.recompute(incident, now=utc(2026, 6, 1, 14, 0))  # recomputing again changes nothing
    kinds = [(e.kind, e.field, e.occurred_at) for e in sla.sla_events(incident)]
    assert kinds == [
        ("sla_started", "response", utc(2026, 6, 1, 8, 0)),
        ("sla_started", "resolution", utc(2026, 6, 1, 8, 0)),
        ("sla_met", "response", utc(2026, 6, 1, 9, 0)),
        ("sla_paused", "resolution", utc(2026, 6, 1, 10, 0)),
        ("sla_resumed", "resolution", utc(2026, 6, 1, 13, 0)),
    ]


def test_a_hold_for_another_reason_does_not_pause_by_default(sla):
    sla.policy(resolution=480)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    sla.move(incident, utc(2026, 6, 1, 9, 0), "in_progress", first_response=True)
    sla.move(incident, utc(2026, 6, 1, 10, 0), "on_hold", hold_reason="awaiting_vendor")
    timer = sla.recompute(incident, now=utc(2026, 6, 1, 13, 0))["resolution"]
    assert timer.state == "running"
    assert timer.due_at == utc(2026, 6, 1, 16, 0)
    assert timer.elapsed_minutes == 300


def test_pause_states_are_configurable(sla):
    sla.policy(resolution=480, pause_on=[{"state": "on_hold"}])  # any hold reason
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    sla.move(incident, utc(2026, 6, 1, 9, 0), "in_progress", first_response=True)
    sla.move(incident, utc(2026, 6, 1, 10, 0), "on_hold", hold_reason="awaiting_vendor")
    sla.move(incident, utc(2026, 6, 1, 12, 0), "in_progress")
    timer = sla.recompute(incident, now=utc(2026, 6, 1, 12, 0))["resolution"]
    assert timer.due_at == utc(2026, 6, 1, 18, 0)
    assert timer.paused_minutes == 120


# --- first response --------------------------------------------------------------------------


def test_response_is_met_by_the_first_agent_touch_only(sla):
    sla.policy(response=60, resolution=480)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    # The requester's own comment and an agent's work note are no response.
    sla.event(incident, utc(2026, 6, 1, 8, 10), "comment_added", actor=sla.requester)
    sla.event(incident, utc(2026, 6, 1, 8, 20), "work_note_added", actor=sla.agent)
    assert sla.recompute(incident, now=utc(2026, 6, 1, 8, 30))["response"].state == "running"
    # The agent's public comment is (the incident service flags it as the first response).
    sla.event(
        incident,
        utc(2026, 6, 1, 8, 40),
        "comment_added",
        actor=sla.agent,
        data={"first_response": True},
    )
    response = sla.recompute(incident, now=utc(2026, 6, 1, 9, 0))["response"]
    assert response.state == "met"
    assert response.completed_at == utc(2026, 6, 1, 8, 40)
    assert response.elapsed_minutes == 40


def test_imported_history_uses_the_same_first_response_rules(sla):
    sla.policy(response=60, resolution=480)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0), source_system="servicenow")
    sla.event(incident, utc(2026, 6, 1, 8, 5), "comment_added", actor=sla.requester)
    # A rule's pick is not a touch; an agent assigning a person is.
    sla.event(
        incident,
        utc(2026, 6, 1, 8, 10),
        "assigned",
        field="assignee",
        new="Ann",
        data={"rule_id": 1},
    )
    sla.event(
        incident, utc(2026, 6, 1, 8, 25), "assigned", field="assignee", new="Bob", actor=sla.agent
    )
    incident_flows.backfill_sla(
        session=sla.session, incident_ids=[incident.id], now=utc(2026, 6, 1, 9)
    )
    [response] = [
        t
        for t in sla_timers.timers_for(session=sla.session, incident_id=incident.id)
        if t.target == "response"
    ]
    assert (response.state, response.completed_at) == ("met", utc(2026, 6, 1, 8, 25))


# --- priority changes ------------------------------------------------------------------------


def test_a_priority_change_retargets_from_the_original_start(sla):
    calendar = sla.calendar()
    sla.policy(calendar=calendar, priority=3, response=120, resolution=1440, name="P3")
    sla.policy(calendar=calendar, priority=1, response=15, resolution=240, name="P1")
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0), priority=3)
    sla.move(incident, utc(2026, 6, 1, 8, 30), "in_progress", first_response=True)
    assert sla.recompute(incident, now=utc(2026, 6, 1, 9, 0))["resolution"].due_at == utc(
        2026, 6, 2, 8, 0
    )

    sla.set_priority(incident, utc(2026, 6, 1, 10, 0), 1)
    timers = sla.recompute(incident, now=utc(2026, 6, 1, 10, 0))
    resolution = timers["resolution"]
    # P1's 4 h counted from the original 08:00 start, not from the change at 10:00.
    assert (resolution.target_minutes, resolution.due_at) == (240, utc(2026, 6, 1, 12, 0))
    assert resolution.policy.name == "P1"
    # The response was met at 08:30 under P3 (120 min); a finished timer is not re-targeted.
    assert (timers["response"].state, timers["response"].target_minutes) == ("met", 120)

    [retarget] = sla.sla_events(incident, "sla_retargeted")
    assert (retarget.field, retarget.occurred_at) == ("resolution", utc(2026, 6, 1, 10, 0))
    assert (retarget.old_value, retarget.new_value) == ("1440", "240")


def test_raising_the_priority_past_the_new_target_breaches_at_the_change(sla):
    calendar = sla.calendar()
    sla.policy(calendar=calendar, priority=3, response=120, resolution=1440)
    sla.policy(calendar=calendar, priority=1, response=15, resolution=240)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0), priority=3)
    sla.set_priority(incident, utc(2026, 6, 1, 9, 0), 1)
    response = sla.recompute(incident, now=utc(2026, 6, 1, 9, 0))["response"]
    # Under P1 the 15 min were used up at 08:15, but that only became true at 09:00.
    assert response.state == "breached"
    assert response.breached_at == utc(2026, 6, 1, 9, 0)
    [breach] = sla.sla_events(incident, "sla_breached")
    assert (breach.field, breach.occurred_at) == ("response", utc(2026, 6, 1, 9, 0))


def test_lowering_the_priority_after_a_breach_measures_against_the_new_target(sla):
    calendar = sla.calendar()
    sla.policy(calendar=calendar, priority=1, response=15, resolution=240)
    sla.policy(calendar=calendar, priority=3, response=120, resolution=1440)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0), priority=1)
    sla.move(incident, utc(2026, 6, 1, 8, 10), "in_progress", first_response=True)
    assert sla.recompute(incident, now=utc(2026, 6, 1, 12, 30))["resolution"].state == "breached"

    sla.set_priority(incident, utc(2026, 6, 1, 13, 0), 3)
    resolution = sla.recompute(incident, now=utc(2026, 6, 1, 13, 0))["resolution"]
    assert resolution.state == "running"
    assert resolution.breached_at is None
    assert resolution.due_at == utc(2026, 6, 2, 8, 0)
    # The log keeps what happened: the P1 breach at 12:00, then the re-target at 13:00.
    assert [(e.kind, e.occurred_at) for e in sla.sla_events(incident) if e.field == "resolution"][
        -2:
    ] == [("sla_breached", utc(2026, 6, 1, 12, 0)), ("sla_retargeted", utc(2026, 6, 1, 13, 0))]


# --- resolution, reopen and cancel -----------------------------------------------------------


def test_resolving_completes_the_timer_and_a_reopen_resumes_it(sla):
    sla.policy(response=60, resolution=480)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    sla.move(incident, utc(2026, 6, 1, 8, 30), "in_progress", first_response=True)
    sla.move(incident, utc(2026, 6, 1, 10, 0), "resolved")
    resolved = sla.recompute(incident, now=utc(2026, 6, 1, 11, 0))["resolution"]
    assert (resolved.state, resolved.completed_at) == ("met", utc(2026, 6, 1, 10, 0))
    assert resolved.elapsed_minutes == 120

    # Reopened at 12:00: the clock continues where it stopped; the resolved spell does not count.
    sla.move(incident, utc(2026, 6, 1, 12, 0), "in_progress")
    reopened = sla.recompute(incident, now=utc(2026, 6, 1, 12, 30))["resolution"]
    assert (reopened.state, reopened.completed_at) == ("running", None)
    assert reopened.elapsed_minutes == 150
    assert reopened.due_at == utc(2026, 6, 1, 18, 0)  # 08:00 + 8 h + the 2 h resolved

    sla.move(incident, utc(2026, 6, 1, 13, 0), "resolved")
    final = sla.recompute(incident, now=utc(2026, 6, 1, 14, 0))["resolution"]
    assert (final.state, final.completed_at) == ("met", utc(2026, 6, 1, 13, 0))
    assert (final.elapsed_minutes, final.paused_minutes) == (180, 120)
    resolution_events = [
        (e.kind, e.occurred_at, (e.data or {}).get("reason"))
        for e in sla.sla_events(incident)
        if e.field == "resolution"
    ]
    assert resolution_events == [
        ("sla_started", utc(2026, 6, 1, 8, 0), None),
        ("sla_met", utc(2026, 6, 1, 10, 0), None),
        ("sla_resumed", utc(2026, 6, 1, 12, 0), "reopened"),
        ("sla_met", utc(2026, 6, 1, 13, 0), None),
    ]


def test_resolving_late_records_the_breach_when_it_happened(sla):
    sla.policy(response=60, resolution=120)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    sla.move(incident, utc(2026, 6, 1, 8, 30), "in_progress", first_response=True)
    sla.move(incident, utc(2026, 6, 1, 11, 0), "resolved")
    resolution = sla.recompute(incident, now=utc(2026, 6, 1, 11, 0))["resolution"]
    assert resolution.state == "breached"
    assert resolution.breached_at == utc(2026, 6, 1, 10, 0)
    assert resolution.completed_at == utc(2026, 6, 1, 11, 0)
    assert [e.field for e in sla.sla_events(incident, "sla_met")] == ["response"]


def test_cancelling_cancels_open_timers_and_keeps_finished_ones(sla):
    sla.policy(response=60, resolution=480)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    sla.move(incident, utc(2026, 6, 1, 8, 30), "in_progress", first_response=True)
    sla.move(incident, utc(2026, 6, 1, 9, 0), "cancelled")
    timers = sla.recompute(incident, now=utc(2026, 6, 1, 9, 0))
    assert timers["response"].state == "met"
    assert (timers["resolution"].state, timers["resolution"].completed_at) == (
        "cancelled",
        utc(2026, 6, 1, 9, 0),
    )
    assert len(sla.sla_events(incident, "sla_cancelled")) == 1


# --- warnings and breach ---------------------------------------------------------------------


def test_warnings_fire_at_their_thresholds_and_the_breach_once(sla):
    sla.policy(response=600, resolution=100, warning_thresholds=[75, 90])
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))

    early = sla.recompute(incident, now=utc(2026, 6, 1, 9, 14))["resolution"]
    assert early.warnings_fired == []
    assert early.next_alert_at == utc(2026, 6, 1, 9, 15)  # 75 % of 100 min

    warned = sla.recompute(incident, now=utc(2026, 6, 1, 9, 20))["resolution"]
    assert warned.warnings_fired == [75]
    assert warned.next_alert_at == utc(2026, 6, 1, 9, 30)  # 90 %

    for now in (utc(2026, 6, 1, 9, 45), utc(2026, 6, 1, 9, 50)):
        breached = sla.recompute(incident, now=now)["resolution"]
    assert breached.state == "breached"
    assert breached.breached_at == utc(2026, 6, 1, 9, 40)
    assert breached.warnings_fired == [75, 90]
    assert breached.next_alert_at is None
    resolution_alerts = [
        (e.kind, e.new_value, e.occurred_at)
        for e in sla.sla_events(incident)
        if e.field == "resolution" and e.kind in ("sla_warning", "sla_breached")
    ]
    assert resolution_alerts == [
        ("sla_warning", "75", utc(2026, 6, 1, 9, 15)),
        ("sla_warning", "90", utc(2026, 6, 1, 9, 30)),
        ("sla_breached", "100", utc(2026, 6, 1, 9, 40)),
    ]
    alerts = sla.session.scalar(
        select(func.count()).select_from(SlaAlert).where(SlaAlert.incident_id == incident.id)
    )
    assert alerts == 3  # response (600 min) has not reached 75 % yet


def test_no_timer_without_a_matching_policy(sla):
    sla.policy(priority=1, resolution=240)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0), priority=4)
    assert sla.recompute(incident, now=utc(2026, 6, 1, 9, 0)) == {}


@pytest.mark.parametrize(
    ("incident_fields", "expected"),
    [
        ({"priority": 1, "service": "Email", "category": "network"}, "service"),
        ({"priority": 1, "service": "Payroll", "category": "network"}, "category"),
        ({"priority": 1, "service": "Payroll", "category": "hardware"}, "priority"),
        ({"priority": 2, "service": "Payroll", "category": "hardware"}, "catch-all"),
    ],
)
def test_the_most_specific_policy_wins(sla, incident_fields, expected):
    calendar = sla.calendar()
    sla.policy(calendar=calendar, name="catch-all", resolution=1000)
    sla.policy(calendar=calendar, name="priority", priority=1, resolution=100)
    sla.policy(calendar=calendar, name="category", category="Network", resolution=200)
    sla.policy(calendar=calendar, name="service", service="email", resolution=300)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0), **incident_fields)
    assert sla.recompute(incident, now=utc(2026, 6, 1, 8, 0))["resolution"].policy.name == expected


def test_timers_whose_policy_was_switched_off_are_kept_but_no_longer_scanned(sla):
    policy = sla.policy(response=600, resolution=480)
    incident = sla.incident(opened_at=utc(2026, 6, 1, 8, 0))
    assert sla.recompute(incident, now=utc(2026, 6, 1, 9, 0))["resolution"].next_alert_at
    policy.is_active = False
    sla.session.flush()
    later = utc(2026, 6, 1, 16, 0)
    timer = sla.recompute(incident, now=later)["resolution"]
    assert (timer.state, timer.elapsed_minutes, timer.next_alert_at) == ("running", 60, None)
    assert incident.id not in sla_timers.incidents_needing_attention(session=sla.session, now=later)
