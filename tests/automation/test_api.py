"""The rules API: admins manage rules, managers read and dry-run them, others see nothing;
bad rules are 422s naming what is wrong; the dry run changes nothing."""

from sqlalchemy import func, select

from operational.automation.models import AutomationRun
from operational.incidents.models import IncidentComment
from tests.conftest import assert_problem

API = "/api/v1/automation/rules"

P1_NETWORK = {
    "name": "P1 network to on-call",
    "record_type": "incident",
    "trigger": "created",
    "conditions": {
        "all": [
            {"field": "priority", "value": 1},
            {"field": "category", "op": "in", "value": ["Network"]},
        ]
    },
    "actions": [{"type": "comment", "template": "Paging on-call for {{ number }}"}],
}


def test_admins_manage_rules_managers_read_them_and_others_see_nothing(client, headers_for):
    admin, manager = headers_for("admin"), headers_for("manager")
    created = client.post(API, json=P1_NETWORK, headers=admin)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["conditions"] == P1_NETWORK["conditions"]
    assert (rule["times_fired"], rule["failures"], rule["last_fired_at"]) == (0, 0, None)
    assert created.headers["Location"] == f"{API}/{rule['id']}"

    assert client.get(API, headers=manager).json()["total"] == 1
    assert client.get(f"{API}/{rule['id']}", headers=manager).status_code == 200
    assert_problem(client.post(API, json={**P1_NETWORK, "name": "x"}, headers=manager), 403)
    assert_problem(
        client.patch(f"{API}/{rule['id']}", json={"is_active": False}, headers=manager), 403
    )
    assert_problem(client.delete(f"{API}/{rule['id']}", headers=manager), 403)
    for role in ("agent", "requester", "auditor"):
        assert_problem(client.get(API, headers=headers_for(role)), 403)

    patched = client.patch(
        f"{API}/{rule['id']}", json={"position": 5, "is_active": False}, headers=admin
    )
    assert patched.status_code == 200 and patched.json()["position"] == 5
    assert client.get(API, params={"is_active": "true"}, headers=manager).json()["total"] == 0
    assert client.delete(f"{API}/{rule['id']}", headers=admin).status_code == 204
    assert_problem(client.get(f"{API}/{rule['id']}", headers=admin), 404)


def test_rule_changes_are_events_of_the_rule(client, headers_for, session):
    from operational.events.models import Event

    admin = headers_for("admin")
    rule = client.post(API, json=P1_NETWORK, headers=admin).json()
    client.patch(f"{API}/{rule['id']}", json={"position": 7}, headers=admin)
    kinds = session.scalars(
        select(Event.kind)
        .where(Event.entity_type == "automation_rule", Event.entity_id == rule["id"])
        .order_by(Event.seq)
    ).all()
    assert kinds == ["created", "field_changed"]


def test_bad_rules_are_422_naming_the_problem(client, headers_for):
    admin = headers_for("admin")

    def refused(**changes):
        return assert_problem(client.post(API, json={**P1_NETWORK, **changes}, headers=admin), 422)

    body = refused(conditions={"field": "colour", "value": "red"})
    assert body["unknown"] == ["colour"]
    refused(actions=[{"type": "set_fields", "fields": {"impact": 9}}])
    refused(actions=[{"type": "comment", "template": "{% if %}"}])
    refused(actions=[{"type": "assign", "team_id": 999_999}])
    refused(actions=[{"type": "teleport"}])
    refused(trigger="schedule")  # without every_minutes
    refused(record_type="change", actions=[{"type": "comment", "template": "hi"}])
    refused(conditions={"in_state": "on_hold", "for_business_days": 5, "calendar_id": 999_999})
    refused(conditions={"in_state": "on_hold"})  # no duration
    # The comment's text is there only for a rule a comment triggers.
    no_comment = refused(conditions={"field": "comment.body", "op": "contains", "value": "x"})
    assert no_comment["unknown"] == ["comment.body"]
    assert client.post(API, json=P1_NETWORK, headers=admin).status_code == 201
    assert_problem(client.post(API, json=P1_NETWORK, headers=admin), 409)  # same name


def _incident(client, headers, **fields):
    body = {"title": "Core switch down", "impact": 1, "urgency": 1, **fields}
    created = client.post("/api/v1/incidents", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


def test_the_dry_run_shows_what_would_happen_and_does_nothing(client, headers_for, session):
    admin, agent = headers_for("admin"), headers_for("agent")
    rule = client.post(API, json={**P1_NETWORK, "is_active": False}, headers=admin).json()
    matching = _incident(client, agent, category="Network")
    other = _incident(client, agent, category="Email")

    tried = client.post(
        f"{API}/{rule['id']}/test", json={"record": matching["number"]}, headers=admin
    )
    assert tried.status_code == 200, tried.text
    (verdict,) = tried.json()["records"]
    assert verdict["matches"] is True
    (action,) = verdict["actions"]
    assert action["would"] == f"add a work note: Paging on-call for {matching['number']}"
    not_matching = client.post(
        f"{API}/{rule['id']}/test",
        json={"record": str(other["id"])},
        headers=headers_for("manager"),
    ).json()
    assert not_matching["records"][0]["matches"] is False
    assert not_matching["records"][0]["actions"] == []

    swept = client.post(f"{API}/{rule['id']}/test", json={}, headers=admin).json()
    assert [found["number"] for found in swept["records"]] == [matching["number"]]
    assert swept["examined"] >= 2

    assert session.scalar(select(func.count()).select_from(IncidentComment)) == 0
    assert session.scalar(select(func.count()).select_from(AutomationRun)) == 0
    assert_problem(
        client.post(f"{API}/{rule['id']}/test", json={"record": "INC9999999"}, headers=admin), 404
    )
    assert_problem(client.post(f"{API}/{rule['id']}/test", json={}, headers=agent), 403)


def test_the_dry_run_can_pretend_a_change(client, headers_for):
    admin = headers_for("admin")
    rule = client.post(
        API,
        json={
            "name": "Became P1",
            "record_type": "incident",
            "trigger": "updated",
            "is_active": False,
            "conditions": {"changed": "priority", "to": 1},
            "actions": [{"type": "stop"}],
        },
        headers=admin,
    ).json()
    incident = _incident(client, headers_for("agent"))
    url = f"{API}/{rule['id']}/test"
    plain = client.post(url, json={"record": incident["number"]}, headers=admin).json()
    pretend = client.post(
        url, json={"record": incident["number"], "changes": {"priority": [3, 1]}}, headers=admin
    ).json()
    assert plain["records"][0]["matches"] is False
    assert pretend["records"][0]["matches"] is True


def test_counters_and_runs_show_what_fired(client, headers_for):
    admin = headers_for("admin")
    rule = client.post(API, json=P1_NETWORK, headers=admin).json()
    incident = _incident(client, headers_for("agent"), category="Network")
    read = client.get(f"{API}/{rule['id']}", headers=headers_for("manager")).json()
    assert read["times_fired"] == 1 and read["last_fired_at"] is not None
    runs = client.get(f"{API}/{rule['id']}/runs", headers=admin).json()
    assert [(run["record_id"], run["outcome"]) for run in runs["items"]] == [
        (incident["id"], "fired")
    ]
    timeline = client.get(f"/api/v1/incidents/{incident['id']}/timeline", headers=admin).json()
    notes = [event for event in timeline if event["kind"] == "work_note_added"]
    assert notes and notes[0]["actor_label"] == "rule: P1 network to on-call"
