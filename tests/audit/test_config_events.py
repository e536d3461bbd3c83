"""Configuration changes are events too: each says who, when, and the values before and after
(``events.service.record_change``), and links into the hash chains like any other event."""

from typing import Any

import pytest

from operational.audit import service as audit
from operational.core.keys import BUILT_IN_AUDIT_KEY
from operational.events import service as events

API = "/api/v1"
WHOLE_WEEK = {
    day: ["00:00-24:00"]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
WEEKDAYS = {day: ["09:00-17:00"] for day in ("monday", "tuesday", "wednesday")}


@pytest.fixture
def admin(factory):
    return factory.user(roles=("admin",), display_name="Config Admin")


@pytest.fixture
def call(client, factory, admin):
    headers = factory.auth_headers(admin)

    def request(method: str, path: str, body: dict[str, Any] | None = None, status: int = 200):
        response = client.request(method, API + path, json=body, headers=headers)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    return request


def _log(session, entity_type: str, entity_id: int) -> list:
    session.expire_all()
    return list(events.list_for(session=session, entity_type=entity_type, entity_id=entity_id))


def _check(session, admin, entity_type: str, entity_id: int, kinds: list[str]) -> list:
    log = _log(session, entity_type, entity_id)
    assert [event.kind for event in log] == kinds
    for event in log:
        assert event.actor_id == admin.id and event.actor_label == "Config Admin"
        assert event.occurred_at is not None
        assert set(event.data) == {"before", "after"}
    assert audit.verify(session=session, key=BUILT_IN_AUDIT_KEY).intact
    return log


def test_sla_calendars_policies_and_escalation_rules(session, admin, call, factory):
    calendar = call(
        "POST",
        "/sla/calendars",
        {"name": "Office", "timezone": "UTC", "weekly_hours": WHOLE_WEEK},
        201,
    )
    call("PATCH", f"/sla/calendars/{calendar['id']}", {"weekly_hours": WEEKDAYS})
    log = _check(session, admin, "sla_calendar", calendar["id"], ["created", "field_changed"])
    assert log[0].data["before"] is None and log[0].data["after"]["name"] == "Office"
    assert log[1].data == {
        "before": {"weekly_hours": WHOLE_WEEK},
        "after": {"weekly_hours": WEEKDAYS},
    }

    policy = call(
        "POST",
        "/sla/policies",
        {
            "name": "P1 payroll",
            "service": "Payroll",
            "priority": 1,
            "calendar_id": calendar["id"],
            "response_minutes": 15,
            "resolution_minutes": 240,
        },
        201,
    )
    call("PATCH", f"/sla/policies/{policy['id']}", {"resolution_minutes": 120})
    call("DELETE", f"/sla/policies/{policy['id']}", status=204)
    log = _check(
        session, admin, "sla_policy", policy["id"], ["created", "field_changed", "deleted"]
    )
    assert log[1].data == {
        "before": {"resolution_minutes": 240},
        "after": {"resolution_minutes": 120},
    }
    assert log[2].data["before"]["name"] == "P1 payroll" and log[2].data["after"] is None

    team = factory.team(name="Escalations")
    rule = call(
        "POST",
        "/sla/escalation-rules",
        {"name": "Tell", "threshold": 80, "action": "notify", "team_id": team.id},
        201,
    )
    call("PATCH", f"/sla/escalation-rules/{rule['id']}", {"threshold": 90})
    call("DELETE", f"/sla/escalation-rules/{rule['id']}", status=204)
    log = _check(
        session, admin, "sla_escalation_rule", rule["id"], ["created", "field_changed", "deleted"]
    )
    assert log[1].data == {"before": {"threshold": 80}, "after": {"threshold": 90}}

    call("DELETE", f"/sla/calendars/{calendar['id']}", status=204)
    assert _log(session, "sla_calendar", calendar["id"])[-1].kind == "deleted"


def test_assignment_rules(session, admin, call, factory):
    team = factory.team(name="Network")
    rule = call(
        "POST", "/assignment-rules", {"name": "VPN", "keywords": ["vpn"], "team_id": team.id}, 201
    )
    call("PATCH", f"/assignment-rules/{rule['id']}", {"position": 5})
    call("DELETE", f"/assignment-rules/{rule['id']}", status=204)
    log = _check(
        session, admin, "automation_rule", rule["id"], ["created", "field_changed", "deleted"]
    )
    assert log[1].data == {"before": {"position": 100}, "after": {"position": 5}}
    assert log[0].new_value == "VPN"


def test_cab_rules_templates_and_blackout_windows(session, admin, call):
    call("PUT", "/changes/cab-rules/normal", {"rule": "quorum", "quorum": 2})
    call("PUT", "/changes/cab-rules/normal", {"rule": "any"})
    log = _log(session, "cab_rule", 1)
    assert log[-1].kind == "field_changed" and log[-1].actor_id == admin.id
    assert log[-1].data == {
        "before": {"quorum": 2, "rule": "quorum"},
        "after": {"quorum": None, "rule": "any"},
    }
    assert log[-1].new_value == "normal"

    template = call(
        "POST",
        "/change-templates",
        {
            "name": "Restart pool",
            "title": "Restart the application pool",
            "implementation_plan": "Recycle the pool",
            "backout_plan": "None needed",
            "test_plan": "Load the home page",
            "risk_answers": {
                "done_before": True,
                "backout_tested": True,
                "service_outage": False,
                "tested_outside_production": True,
            },
        },
        201,
    )
    call("PATCH", f"/change-templates/{template['id']}", {"test_plan": "Log in"})
    log = _check(session, admin, "change_template", template["id"], ["created", "field_changed"])
    assert log[1].data == {
        "before": {"test_plan": "Load the home page"},
        "after": {"test_plan": "Log in"},
    }

    window = call(
        "POST",
        "/blackout-windows",
        {"name": "Freeze", "starts_at": "2026-12-20T00:00:00Z", "ends_at": "2026-12-27T00:00:00Z"},
        201,
    )
    call("PATCH", f"/blackout-windows/{window['id']}", {"ends_at": "2026-12-28T00:00:00Z"})
    call("DELETE", f"/blackout-windows/{window['id']}", status=204)
    log = _check(
        session, admin, "blackout_window", window["id"], ["created", "field_changed", "deleted"]
    )
    assert log[1].data["before"] == {"ends_at": "2026-12-27T00:00:00+00:00"}
    assert log[1].data["after"] == {"ends_at": "2026-12-28T00:00:00+00:00"}


def test_ci_classes(session, admin, call):
    created = call("POST", "/ci-classes", {"name": "load_balancer", "label": "LB"}, 201)
    call("PATCH", "/ci-classes/load_balancer", {"label": "Load balancer"})
    log = _check(session, admin, "ci_class", created["id"], ["created", "field_changed"])
    assert log[1].data == {"before": {"label": "LB"}, "after": {"label": "Load balancer"}}


def test_role_grants(session, admin, call, factory):
    user = factory.user(roles=("agent",))
    call("PATCH", f"/users/{user.id}", {"roles": ["agent", "manager"]})
    log = _log(session, "user", user.id)
    granted = [event for event in log if event.kind == "user_roles_changed"]
    assert len(granted) == 1
    assert (granted[0].old_value, granted[0].new_value) == ("agent", "agent,manager")
    assert granted[0].actor_id == admin.id
