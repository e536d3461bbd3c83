"""Scheduled rules: due once per interval, run over the open records that match, with time in a
state counted on an SLA business calendar."""

from datetime import UTC, datetime, timedelta

from operational.automation import flows as automation_flows
from operational.automation.enums import RunOutcome

MONDAY = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)  # 10:00 in Amsterdam
OFFICE_HOURS = {
    day: ["09:00-17:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


def waiting_rule(auto, calendar_id, **fields):
    return auto.rule(
        name=fields.pop("name", "Resolve tickets the caller left waiting"),
        trigger="schedule",
        every_minutes=60,
        conditions={
            "in_state": "on_hold",
            "hold_reason": "awaiting_caller",
            "for_business_days": 5,
            "calendar_id": calendar_id,
        },
        actions=[
            {
                "type": "comment",
                "public": True,
                "template": "We closed {{ number }}: we did not hear back in 5 business days.",
            },
            {
                "type": "set_fields",
                "fields": {
                    "state": "resolved",
                    "resolution_code": "resolved_by_caller",
                    "resolution_notes": "No answer from the caller for 5 business days",
                },
            },
        ],
        **fields,
    )


def on_hold(auto, at):
    incident = auto.incident(assignee_id=auto.agent.id, now=at)
    auto.update(incident, state="in_progress", now=at)
    auto.update(incident, state="on_hold", hold_reason="awaiting_caller", now=at)
    return incident


def run(auto, rule, incident, at):
    return automation_flows.run_scheduled_on(
        session=auto.session, rule_id=rule.id, record_id=incident.id, now=at
    )


def test_waiting_for_the_caller_five_business_days_resolves_with_a_note(auto, sla):
    calendar = sla.calendar(timezone="Europe/Amsterdam", weekly_hours=OFFICE_HOURS)
    rule = waiting_rule(auto, calendar.id)
    incident = on_hold(auto, MONDAY)
    fresh = on_hold(auto, MONDAY + timedelta(days=3))  # Thursday

    friday = MONDAY + timedelta(days=4, hours=7)
    assert run(auto, rule, incident, friday) is False  # 4 business days
    saturday = MONDAY + timedelta(days=5, hours=7)
    assert run(auto, rule, incident, saturday) is False  # weekends do not count
    next_monday = MONDAY + timedelta(days=7)
    assert run(auto, rule, fresh, next_monday) is False
    assert run(auto, rule, incident, next_monday) is True

    assert incident.state == "resolved"
    assert incident.resolution_code == "resolved_by_caller"
    (comment,) = auto.comments(incident)
    assert comment.is_public
    assert comment.body == f"We closed {incident.number}: we did not hear back in 5 business days."
    resolved = auto.events(incident, kind="state_changed", new_value="resolved")
    assert resolved[0].actor_label == f"rule: {rule.name}"
    assert fresh.state == "on_hold"
    (fired,) = auto.runs(rule, RunOutcome.fired)
    assert fired.trigger == "schedule" and fired.record_id == incident.id


def test_holidays_of_the_calendar_do_not_count(auto, sla):
    calendar = sla.calendar(
        timezone="Europe/Amsterdam",
        weekly_hours=OFFICE_HOURS,
        added_holidays=[(MONDAY + timedelta(days=2)).date()],  # Wednesday
    )
    rule = waiting_rule(auto, calendar.id)
    incident = on_hold(auto, MONDAY)
    assert run(auto, rule, incident, MONDAY + timedelta(days=7)) is False
    assert run(auto, rule, incident, MONDAY + timedelta(days=8)) is True


def test_a_scheduled_rule_is_due_once_per_interval(auto, sla):
    calendar = sla.calendar()
    rule = waiting_rule(auto, calendar.id)
    now = MONDAY
    assert rule.id in automation_flows.claim_due_rules(session=auto.session, now=now)
    assert rule.id not in automation_flows.claim_due_rules(
        session=auto.session, now=now + timedelta(minutes=59)
    )
    assert rule.id in automation_flows.claim_due_rules(
        session=auto.session, now=now + timedelta(minutes=60)
    )


def test_scheduled_runs_skip_closed_records(auto):
    rule = auto.rule(
        trigger="schedule",
        every_minutes=60,
        conditions={"field": "priority", "op": "gte", "value": 1},
        actions=[{"type": "comment", "template": "still open"}],
    )
    incident = on_hold(auto, MONDAY)
    auto.update(incident, state="cancelled", now=MONDAY)
    open_ids = automation_flows.open_record_ids(session=auto.session, record_type="incident")
    assert incident.id not in open_ids
    assert run(auto, rule, incident, MONDAY + timedelta(hours=1)) is False


def test_the_worker_runs_due_scheduled_rules_one_record_at_a_time(fresh_database):
    from sqlalchemy import create_engine, pool
    from sqlalchemy.orm import Session

    from operational import worker
    from operational.incidents.models import Incident
    from tests.automation.conftest import AutomationKit
    from tests.factories import Factory
    from tests.sla.conftest import SlaKit

    url = fresh_database("automation_worker")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            factory = Factory(session)
            auto = AutomationKit(session, factory)
            calendar = SlaKit(session, factory).calendar(
                timezone="Europe/Amsterdam", weekly_hours=OFFICE_HOURS
            )
            waiting_rule(auto, calendar.id)
            waiting = on_hold(auto, MONDAY)
            recent = on_hold(auto, MONDAY + timedelta(days=6))
            session.commit()
            ids = waiting.id, recent.id
        report = worker.run_once(
            engine=engine, now=MONDAY + timedelta(days=7), auto_close=False, dispatch=False
        )
        assert (report.scheduled_rules, report.rules_fired, report.failed) == (1, 1, 0)
        again = worker.run_once(
            engine=engine, now=MONDAY + timedelta(days=7, minutes=30), dispatch=False
        )
        assert again.scheduled_rules == 0  # not due before its hour is up
        with Session(engine) as session:
            states = {i: session.get(Incident, i).state for i in ids}
            assert states == {ids[0]: "resolved", ids[1]: "on_hold"}
    finally:
        engine.dispose()
