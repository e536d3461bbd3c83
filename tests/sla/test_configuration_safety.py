"""A configuration change cannot break the service (issue 12).

Tried as a new user would, ``PATCH /sla/calendars/1 {"weekly_hours": {}}`` was accepted; from
then on every new incident answered 500 and the worker failed at every scan. Such a calendar is
now refused (422), and a calendar the engine cannot use all the same (stored before these checks,
or changed behind the API's back) shows as an error on the timers while the incidents are saved.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, pool, select, text
from sqlalchemy.orm import Session

from operational import worker
from operational.sla.models import SlaCalendar, SlaTimer
from tests.conftest import assert_problem

CALENDARS = "/api/v1/sla/calendars"
POLICIES = "/api/v1/sla/policies"
INCIDENTS = "/api/v1/incidents"
NO_TIME = {"monday": [], "tuesday": []}


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


def _default_calendar_id(session) -> int:
    return session.scalar(select(SlaCalendar.id).order_by(SlaCalendar.id).limit(1))


@pytest.mark.parametrize("weekly_hours", [{}, NO_TIME])
def test_a_calendar_without_working_time_is_refused(client, admin, session, weekly_hours):
    calendar_id = _default_calendar_id(session)
    response = client.patch(
        f"{CALENDARS}/{calendar_id}", json={"weekly_hours": weekly_hours}, headers=admin
    )
    body = assert_problem(response, 422, "validation-error")
    assert "no working time" in body["detail"]
    created = client.post(
        CALENDARS,
        json={"name": "Never", "timezone": "UTC", "weekly_hours": weekly_hours},
        headers=admin,
    )
    assert_problem(created, 422, "validation-error")
    # Incidents are still raised and timed by the untouched calendar.
    incident = client.post(INCIDENTS, json={"title": "still fine"}, headers=admin)
    assert incident.status_code == 201
    assert {timer["state"] for timer in incident.json()["sla_timers"]} == {"running"}


def _break_calendar(session, calendar_id: int, **columns) -> None:
    """What the API refuses, written behind its back (a calendar stored before the checks)."""
    sets = ", ".join(f"{name} = :{name}" for name in columns)
    session.execute(
        text(f"update operational.sla_calendars set {sets} where id = :id"),
        {"id": calendar_id, **columns},
    )
    session.expire_all()


def test_a_policy_on_a_calendar_that_cannot_be_used_is_refused(client, admin, session):
    calendar = client.post(
        CALENDARS,
        json={"name": "Soon empty", "timezone": "UTC", "weekly_hours": {"monday": ["09:00-17:00"]}},
        headers=admin,
    ).json()
    _break_calendar(session, calendar["id"], weekly_hours="{}")
    response = client.post(
        POLICIES,
        json={
            "name": "On an empty calendar",
            "priority": 5,
            "service": "Payroll",
            "calendar_id": calendar["id"],
            "response_minutes": 60,
            "resolution_minutes": 600,
        },
        headers=admin,
    )
    body = assert_problem(response, 422, "validation-error")
    assert "Soon empty" in body["detail"] and "no working time" in body["detail"]


@pytest.mark.parametrize(
    ("columns", "reason"),
    [({"weekly_hours": "{}"}, "no working time"), ({"timezone": "Mars/Olympus"}, "time zone")],
)
def test_a_calendar_the_engine_cannot_use_shows_on_the_timers_and_the_incident_is_saved(
    client, admin, session, columns, reason
):
    _break_calendar(session, _default_calendar_id(session), **columns)
    response = client.post(INCIDENTS, json={"title": "printer on fire"}, headers=admin)
    assert response.status_code == 201, response.text
    incident = response.json()
    timers = incident["sla_timers"]
    assert [timer["target"] for timer in timers] == ["response", "resolution"]
    for timer in timers:
        assert timer["state"] == "error"
        assert timer["due_at"] is None
        assert reason in timer["error"] and "cannot be used" in timer["error"]
    listed = client.get(
        "/api/v1/sla/timers", params={"incident_id": incident["id"]}, headers=admin
    ).json()
    assert {timer["state"] for timer in listed["items"]} == {"error"}
    # Other changes to the incident go on as before.
    moved = client.patch(
        f"{INCIDENTS}/{incident['id']}",
        json={"title": "printer on fire, floor 3"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert {timer["state"] for timer in moved.json()["sla_timers"]} == {"error"}


def test_a_settled_timer_keeps_its_verdict_when_the_calendar_breaks_later(
    client, admin, session, headers_for
):
    agent = headers_for("agent")
    incident = client.post(INCIDENTS, json={"title": "answered"}, headers=admin).json()
    comment = client.post(
        f"{INCIDENTS}/{incident['id']}/comments", json={"body": "On it."}, headers=agent
    )
    assert comment.status_code == 201
    met = {timer.target: timer.state for timer in _timers(session, incident["id"])}
    assert met["response"] == "met"
    _break_calendar(session, _default_calendar_id(session), weekly_hours="{}")
    client.patch(
        f"{INCIDENTS}/{incident['id']}", json={"urgency": 2}, headers={**admin, "If-Match": '"1"'}
    )
    after = {timer.target: timer.state for timer in _timers(session, incident["id"])}
    assert after == {"response": "met", "resolution": "error"}


def _timers(session, incident_id: int) -> list[SlaTimer]:
    return list(
        session.scalars(
            select(SlaTimer)
            .where(SlaTimer.incident_id == incident_id)
            .execution_options(populate_existing=True)
        )
    )


def test_the_worker_scans_without_failing_and_recovers_once_the_calendar_is_mended(
    fresh_database,
):
    from operational.incidents import flows
    from operational.incidents.schemas import IncidentCreate
    from tests.factories import Factory

    engine = create_engine(fresh_database("calendar"), poolclass=pool.NullPool)
    opened = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    with Session(engine) as session:
        calendar_id = _default_calendar_id(session)
        good_hours = session.get(SlaCalendar, calendar_id).weekly_hours
        agent = Factory(session).user(roles=("agent",))
        _break_calendar(session, calendar_id, weekly_hours="{}")
        outcome = flows.create(
            session=session, data=IncidentCreate(title="disk full"), actor=agent, now=opened
        )
        incident_id = outcome.incident.id
        session.commit()

    report = worker.run_once(engine=engine, now=opened + timedelta(hours=2))
    assert (report.processed, report.failed) == (1, 0)
    with Session(engine) as session:
        assert {timer.state for timer in _timers(session, incident_id)} == {"error"}
        _break_calendar(session, calendar_id, weekly_hours=_json(good_hours))
        session.commit()

    report = worker.run_once(engine=engine, now=opened + timedelta(hours=4))
    assert report.failed == 0
    with Session(engine) as session:
        timers = {timer.target: timer for timer in _timers(session, incident_id)}
        assert timers["resolution"].error is None
        assert timers["resolution"].state in ("running", "breached")
        assert timers["resolution"].due_at is not None
    engine.dispose()


def _json(value) -> str:
    import json

    return json.dumps(value)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (f"{POLICIES}/1", {"calendar_id": 999_999}, "calendar_id"),
        ("/api/v1/sla/escalation-rules/{rule}", {"team_id": 999_999}, "team_id"),
        ("/api/v1/sla/escalation-rules/{rule}", {"policy_id": 999_999}, "policy_id"),
    ],
)
def test_an_update_naming_a_record_that_does_not_exist_is_a_422(
    client, admin, factory, path, body, field
):
    # Found by bench/fuzz.py: the reference was flushed before it was checked (a 500).
    team = factory.team()
    rule = client.post(
        "/api/v1/sla/escalation-rules",
        json={"name": "notify", "threshold": 100, "action": "notify", "team_id": team.id},
        headers=admin,
    ).json()
    response = client.patch(path.format(rule=rule["id"]), json=body, headers=admin)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["field"] == field
