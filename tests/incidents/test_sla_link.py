"""The incident API shows the SLA engine's timers and filters by their state."""

from datetime import UTC, datetime, timedelta

import pytest

from operational.incidents import flows
from operational.sla import service as sla_service
from operational.sla import timers as sla_timers
from operational.sla.schemas import CalendarCreate, PolicyCreate

URL = "/api/v1/incidents"
WHOLE_WEEK = {
    day: ["00:00-24:00"]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


@pytest.fixture
def payroll_policy(session):
    calendar = sla_service.create_calendar(
        session=session,
        data=CalendarCreate(name="always", timezone="UTC", weekly_hours=WHOLE_WEEK),
    )
    return sla_service.create_policy(
        session=session,
        data=PolicyCreate(
            name="Payroll",
            service="Payroll",
            calendar_id=calendar.id,
            response_minutes=60,
            resolution_minutes=240,
        ),
        actor=None,
    )


def test_incident_responses_carry_their_timers(client, factory, incidents, payroll_policy):
    headers = factory.auth_headers(incidents.agent())
    created = client.post(URL, json={"title": "Payslips", "service": "Payroll"}, headers=headers)
    body = created.json()
    timers = {timer["target"]: timer for timer in body["sla_timers"]}
    assert sorted(timers) == ["resolution", "response"]
    opened = datetime.fromisoformat(body["opened_at"])
    assert (timers["response"]["target_minutes"], timers["resolution"]["target_minutes"]) == (
        60,
        240,
    )
    assert datetime.fromisoformat(timers["response"]["due_at"]) == opened + timedelta(minutes=60)
    assert datetime.fromisoformat(timers["resolution"]["due_at"]) == opened + timedelta(hours=4)
    assert {timer["state"] for timer in timers.values()} == {"running"}
    listed = client.get(URL, params={"service": "payroll"}, headers=headers).json()["items"]
    assert [len(item["sla_timers"]) for item in listed] == [2]


def test_list_filters_by_sla_state(client, factory, incidents, payroll_policy, session):
    agent = incidents.agent()
    late = incidents.incident(
        actor=agent,
        title="Late",
        service="Payroll",
        now=datetime.now(UTC) - timedelta(hours=10),
    )
    # Its timers are computed as of the time it was opened; the worker's scan records the breach.
    timers = sla_timers.timers_for(session=session, incident_id=late.id)
    assert {timer.state for timer in timers} == {"running"}
    flows.process_sla(session=session, incident_id=late.id, now=datetime.now(UTC))
    incidents.incident(actor=agent, title="On time", service="Payroll")
    headers = factory.auth_headers(agent)

    def titles(*states: str) -> list[str]:
        response = client.get(
            URL,
            params={"sla_state": list(states), "service": "Payroll", "sort": "title"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert titles("breached") == ["Late"]
    assert titles("running") == ["On time"]
    assert titles("running", "breached") == ["Late", "On time"]
    assert titles("met") == []
    assert client.get(URL, params={"sla_state": "late"}, headers=headers).status_code == 422
