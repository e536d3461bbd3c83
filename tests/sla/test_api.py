"""The SLA admin API: permissions, the list contract, and problem+json on bad input."""

from datetime import UTC, datetime

import pytest

from operational.sla import timers as sla_timers
from tests.conftest import assert_problem

OFFICE = {"monday": ["09:00-12:00", "13:00-17:00"], "friday": ["09:00-15:00"]}


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


def calendar_body(**overrides):
    base = {"name": "Amsterdam office", "timezone": "Europe/Amsterdam", "weekly_hours": OFFICE}
    return base | overrides


def create_calendar(client, admin, **overrides) -> dict:
    response = client.post("/api/v1/sla/calendars", json=calendar_body(**overrides), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_calendar_crud(client, admin):
    created = create_calendar(client, admin, holiday_country="nl", added_holidays=["2026-12-24"])
    assert created["holiday_country"] == "NL"
    assert created["weekly_hours"] == OFFICE
    assert created["added_holidays"] == ["2026-12-24"]

    url = f"/api/v1/sla/calendars/{created['id']}"
    changed = client.patch(url, json={"removed_holidays": ["2026-04-27"]}, headers=admin)
    assert changed.status_code == 200
    assert changed.json()["removed_holidays"] == ["2026-04-27"]
    assert client.get(url, headers=admin).json()["removed_holidays"] == ["2026-04-27"]

    page = client.get("/api/v1/sla/calendars", params={"sort": "-id", "size": 2}, headers=admin)
    assert page.status_code == 200
    body = page.json()
    assert set(body) == {"items", "total", "page", "size"}
    assert body["items"][0]["id"] == created["id"]
    assert (body["page"], body["size"]) == (1, 2)
    assert body["total"] >= 2  # with the seeded 24x7 calendar

    assert client.delete(url, headers=admin).status_code == 204
    assert_problem(client.get(url, headers=admin), 404)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"holiday_country": "XX"}, "XX"),
        ({"weekly_hours": {"monday": ["17:00-09:00"]}}, "ends before it starts"),
        ({"weekly_hours": {"monday": ["9-17"]}}, "is not a window"),
        ({"weekly_hours": {"someday": ["09:00-17:00"]}}, "someday"),
    ],
)
def test_bad_calendars_are_422_problems(client, admin, overrides, needle):
    response = client.post("/api/v1/sla/calendars", json=calendar_body(**overrides), headers=admin)
    body = assert_problem(response, 422)
    assert needle in response.text
    assert body["title"] == "Validation error"


def test_writing_needs_sla_admin_and_reading_sla_read(client, headers_for):
    agent, manager = headers_for("agent"), headers_for("manager")
    requester = headers_for("requester")
    for headers in (agent, manager):
        assert client.get("/api/v1/sla/policies", headers=headers).status_code == 200
        denied = client.post("/api/v1/sla/calendars", json=calendar_body(), headers=headers)
        assert assert_problem(denied, 403)["permission"] == "sla:admin"
    assert_problem(client.get("/api/v1/sla/escalation-rules", headers=requester), 403)
    assert_problem(client.get("/api/v1/sla/timers"), 401)


def test_the_default_policies_are_seeded(client, admin):
    body = client.get(
        "/api/v1/sla/policies", params={"sort": "priority", "is_active": True}, headers=admin
    ).json()
    defaults = [
        (p["priority"], p["response_minutes"], p["resolution_minutes"]) for p in body["items"]
    ]
    assert defaults == [
        (1, 15, 240),
        (2, 30, 480),
        (3, 120, 1440),
        (4, 480, 4320),
        (5, 1440, 10080),
    ]
    assert body["items"][0]["pause_on"] == [{"state": "on_hold", "hold_reason": "awaiting_caller"}]
    assert body["items"][0]["warning_thresholds"] == [75, 90]


def test_policy_crud_and_conflicts(client, admin):
    calendar = create_calendar(client, admin)
    body = {
        "name": "Payroll",
        "service": "Payroll",
        "calendar_id": calendar["id"],
        "response_minutes": 30,
        "resolution_minutes": 240,
        "warning_thresholds": [90, 50],
    }
    created = client.post("/api/v1/sla/policies", json=body, headers=admin)
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["warning_thresholds"] == [50, 90]
    assert policy["pause_on"] == [{"state": "on_hold", "hold_reason": "awaiting_caller"}]

    same_criteria = client.post(
        "/api/v1/sla/policies",
        json=body | {"name": "Payroll again", "service": "payroll"},
        headers=admin,
    )
    assert "Payroll" in assert_problem(same_criteria, 409)["detail"]
    assert_problem(client.post("/api/v1/sla/policies", json=body, headers=admin), 409)

    url = f"/api/v1/sla/policies/{policy['id']}"
    patched = client.patch(
        url, json={"pause_on": [{"state": "on_hold"}], "priority": 1}, headers=admin
    )
    assert patched.status_code == 200
    assert patched.json()["pause_on"] == [{"state": "on_hold", "hold_reason": None}]
    assert patched.json()["priority"] == 1
    assert_problem(client.patch(url, json={"response_minutes": None}, headers=admin), 422)

    in_use = client.delete(f"/api/v1/sla/calendars/{calendar['id']}", headers=admin)
    assert "Payroll" in assert_problem(in_use, 409)["detail"]
    assert client.delete(url, headers=admin).status_code == 204


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"calendar_id": 999999}, 422),
        ({"response_minutes": 0}, 422),
        ({"warning_thresholds": [100]}, 422),
        ({"warning_thresholds": [75, 75]}, 422),
        ({"pause_on": [{"state": "resolved"}]}, 422),
        ({"pause_on": [{"state": "in_progress", "hold_reason": "awaiting_caller"}]}, 422),
        ({"priority": 9}, 422),
        ({"surprise": True}, 422),
    ],
)
def test_bad_policies_are_problems(client, admin, overrides, status):
    body = {"name": "bad", "calendar_id": 1, "response_minutes": 10, "resolution_minutes": 60}
    assert_problem(
        client.post("/api/v1/sla/policies", json=body | overrides, headers=admin), status
    )


def test_escalation_rule_crud(client, admin, factory):
    team = factory.team()
    rule = client.post(
        "/api/v1/sla/escalation-rules",
        json={"name": "to second line", "threshold": 90, "action": "reassign", "team_id": team.id},
        headers=admin,
    )
    assert rule.status_code == 201, rule.text
    url = f"/api/v1/sla/escalation-rules/{rule.json()['id']}"
    off = client.patch(url, json={"is_active": False}, headers=admin)
    assert off.json()["is_active"] is False
    listed = client.get(
        "/api/v1/sla/escalation-rules", params={"is_active": False}, headers=admin
    ).json()
    assert [item["name"] for item in listed["items"]] == ["to second line"]
    assert client.delete(url, headers=admin).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"name": "r", "threshold": 100, "action": "reassign"},  # no team
        {"name": "r", "threshold": 100, "action": "notify", "team_id": 999999},
        {"name": "r", "threshold": 0, "action": "notify"},
        {"name": "r", "threshold": 101, "action": "notify"},
        {"name": "r", "threshold": 100, "action": "page_the_ceo"},
        {"name": "r", "threshold": 100, "action": "notify", "raise_to_priority": 1},
    ],
)
def test_bad_rules_are_422_problems(client, admin, body):
    assert_problem(client.post("/api/v1/sla/escalation-rules", json=body, headers=admin), 422)


def test_unknown_sort_field_is_a_400_problem(client, admin):
    response = client.get("/api/v1/sla/policies", params={"sort": "password"}, headers=admin)
    assert "allowed" in assert_problem(response, 400)


def test_timers_endpoint_lists_an_incidents_timers(client, admin, sla):
    policy = sla.policy(response=60, resolution=480)
    opened = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    incident = sla.incident(opened_at=opened)
    sla_timers.recompute_timers(session=sla.session, incident=incident, now=opened)
    response = client.get("/api/v1/sla/timers", params={"incident_id": incident.id}, headers=admin)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(t["target"], t["state"], datetime.fromisoformat(t["due_at"])) for t in items] == [
        ("response", "running", datetime(2026, 6, 1, 9, 0, tzinfo=UTC)),
        ("resolution", "running", datetime(2026, 6, 1, 16, 0, tzinfo=UTC)),
    ]
    assert {t["policy_name"] for t in items} == {policy.name}
