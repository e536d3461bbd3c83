"""Inbound webhooks through the API: sources registered by an admin, signed bodies (HMAC-SHA256
of the raw body), Alertmanager, Jira and the generic shape, each event acted on once."""

import json

import pytest
from sqlalchemy import select

from operational.inbound.service import sign
from operational.incidents.models import Incident, IncidentComment
from tests.conftest import assert_problem


def _firing(fingerprint: str = "a1b2c3", status: str = "firing", ends: str = "") -> dict:
    return {
        "version": "4",
        "status": status,
        "receiver": "itsm",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "DiskFull",
                    "instance": "db-01:9100",
                    "job": "node",
                    "severity": "critical",
                },
                "annotations": {
                    "summary": "Disk almost full on db-01",
                    "description": "Less than 5% left on /var",
                },
                "startsAt": "2025-12-01T09:00:00Z",
                "endsAt": ends or "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fingerprint,
            }
        ],
    }


def _resolved(fingerprint: str = "a1b2c3") -> dict:
    return _firing(fingerprint, status="resolved", ends="2025-12-01T10:00:00Z")


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


@pytest.fixture
def register(client, admin):
    def make(name: str = "prometheus", **fields) -> dict:
        response = client.post(
            "/api/v1/inbound-sources",
            json={"name": name, "kind": "alertmanager", **fields},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def send(client):
    def post(source: dict, payload: dict | bytes, *, secret: str | None = None, headers=None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signature = sign(secret or source["secret"], body)
        return client.post(
            f"/api/v1/inbound/{source['name']}",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-ITSM-Signature": signature,
                **(headers or {}),
            },
        )

    return post


def _incident(session, number: str) -> Incident:
    return session.scalar(select(Incident).where(Incident.number == number))


def _notes(session, incident: Incident) -> list[str]:
    return list(
        session.scalars(
            select(IncidentComment.body)
            .where(IncidentComment.incident_id == incident.id)
            .order_by(IncidentComment.id)
        )
    )


def test_registering_a_source_shows_its_secret_once(client, admin, register):
    source = register()

    assert len(source["secret"]) >= 32
    assert source["url"].endswith("/api/v1/inbound/prometheus")
    listed = client.get("/api/v1/inbound-sources", headers=admin).json()
    assert [item["name"] for item in listed["items"]] == ["prometheus"]
    assert "secret" not in listed["items"][0]


def test_a_firing_alert_opens_one_incident_and_a_repeat_is_a_duplicate(
    client, session, register, send
):
    source = register()

    first = send(source, _firing())
    repeat = send(source, _firing())

    assert first.status_code == 200, first.text
    (event,) = first.json()["events"]
    assert event["outcome"] == "created"
    incident = _incident(session, event["incident_number"])
    assert incident.title == "[DiskFull] Disk almost full on db-01"
    assert incident.channel == "monitoring"
    assert incident.priority == 1  # severity critical: impact 1, urgency 1
    assert incident.configuration_item == "db-01:9100"
    assert repeat.json() == {
        "received": 1,
        "duplicates": 1,
        "events": [
            {
                "event_id": event["event_id"],
                "outcome": "duplicate",
                "incident_number": None,
                "reason": None,
            }
        ],
    }
    assert session.scalar(select(Incident.id).where(Incident.id != incident.id)) is None


def test_the_same_alert_firing_again_updates_its_open_incident(session, register, send):
    source = register()
    created = send(source, _firing()).json()["events"][0]
    again = _firing()
    again["alerts"][0]["startsAt"] = "2025-12-01T11:00:00Z"  # a new firing of the same key

    updated = send(source, again).json()["events"][0]

    assert updated["outcome"] == "commented"
    assert updated["incident_number"] == created["incident_number"]
    incident = _incident(session, created["incident_number"])
    assert _notes(session, incident) == [
        "Alert firing again (prometheus): [DiskFull] Disk almost full on db-01"
    ]


def test_a_resolved_alert_adds_a_note_by_default(session, register, send):
    source = register()
    number = send(source, _firing()).json()["events"][0]["incident_number"]

    resolved = send(source, _resolved()).json()["events"][0]

    assert resolved["outcome"] == "commented"
    incident = _incident(session, number)
    assert incident.state == "new"
    assert _notes(session, incident)[-1].startswith("Alert resolved at the source (prometheus)")


def test_a_resolved_alert_resolves_its_incident_when_the_source_says_so(
    client, session, register, send, factory, headers_for
):
    team = factory.team()
    factory.user(roles=("agent",), teams=(team,))
    source = register(resolved_action="resolve", assignment_group_id=team.id)
    number = send(source, _firing()).json()["events"][0]["incident_number"]
    assert _incident(session, number).state == "assigned"  # the source's team picked a member

    resolved = send(source, _resolved()).json()["events"][0]

    assert resolved["outcome"] == "resolved"
    incident = _incident(session, number)
    assert incident.state == "resolved"
    assert incident.resolution_code == "solved_remotely"


def test_resolve_falls_back_to_a_note_when_the_incident_cannot_be_resolved(session, register, send):
    source = register(resolved_action="resolve")
    number = send(source, _firing()).json()["events"][0]["incident_number"]

    resolved = send(source, _resolved()).json()["events"][0]

    assert resolved["outcome"] == "commented"
    assert "cannot be resolved" in resolved["reason"]
    assert _incident(session, number).state == "new"


def test_a_bad_or_missing_signature_is_a_401_problem_and_changes_nothing(
    client, session, register, send
):
    source = register()

    wrong = send(source, _firing(), secret="not-the-secret-at-all")
    unsigned = client.post(f"/api/v1/inbound/{source['name']}", json=_firing())

    assert_problem(wrong, 401, "invalid-signature")
    assert_problem(unsigned, 401, "invalid-signature")
    assert "WWW-Authenticate" not in wrong.headers
    assert session.scalar(select(Incident.id)) is None


def test_a_tampered_body_fails_its_signature(client, register):
    source = register()
    body = json.dumps(_firing()).encode()
    signature = sign(source["secret"], body)

    tampered = client.post(
        f"/api/v1/inbound/{source['name']}",
        content=body.replace(b"critical", b"info"),
        headers={"X-ITSM-Signature": signature, "Content-Type": "application/json"},
    )

    assert_problem(tampered, 401, "invalid-signature")


def test_unknown_and_inactive_sources_are_404(client, admin, register, send):
    source = register()
    client.patch(
        f"/api/v1/inbound-sources/{source['id']}", json={"is_active": False}, headers=admin
    )

    assert_problem(send(source, _firing()), 404, "unknown-source")
    assert_problem(client.post("/api/v1/inbound/nobody", json={}), 404, "unknown-source")


def test_a_rotated_secret_replaces_the_old_one(client, admin, register, send):
    source = register()
    rotated = client.patch(
        f"/api/v1/inbound-sources/{source['id']}", json={"rotate_secret": True}, headers=admin
    ).json()

    assert rotated["secret"] != source["secret"]
    assert send(source, _firing()).status_code == 401
    assert send(source, _firing(), secret=rotated["secret"]).status_code == 200


def test_a_body_that_is_not_the_sources_shape_is_a_422(register, send):
    source = register()

    assert_problem(send(source, b"not json"), 422)
    assert_problem(send(source, {"alerts": [{"status": "burning"}]}), 422)


def test_the_generic_shape_and_its_event_id(session, register, send):
    source = register("monitor", kind="generic")
    event = {
        "event_id": "evt-1",
        "alert_key": "checkout-latency",
        "title": "Checkout is slow",
        "impact": 1,
        "urgency": 2,
        "service": "Webshop",
    }

    created = send(source, event).json()["events"][0]
    duplicate = send(source, event).json()["events"][0]
    cleared = send(source, {**event, "event_id": "evt-2", "status": "resolved"}).json()["events"][0]

    assert created["outcome"] == "created"
    assert duplicate["outcome"] == "duplicate"
    assert cleared["outcome"] == "commented"
    incident = _incident(session, created["incident_number"])
    assert (incident.title, incident.service, incident.priority) == (
        "Checkout is slow",
        "Webshop",
        2,
    )


def test_a_jira_issue_webhook_opens_and_notes_one_incident(session, register, send):
    source = register("jira", kind="jira")
    issue = {
        "timestamp": 1764579600000,
        "webhookEvent": "jira:issue_created",
        "issue": {
            "id": "10001",
            "key": "OPS-42",
            "fields": {
                "summary": "Payroll export fails",
                "description": {
                    "type": "doc",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "Since 9:00"}]}
                    ],
                },
                "status": {"name": "To Do", "statusCategory": {"key": "new"}},
            },
        },
    }
    done = json.loads(json.dumps(issue))
    done["webhookEvent"] = "jira:issue_updated"
    done["timestamp"] += 1000
    done["issue"]["fields"]["status"] = {"name": "Done", "statusCategory": {"key": "done"}}

    created = send(source, issue, headers={"X-Atlassian-Webhook-Identifier": "d-1"}).json()
    closed = send(source, done, headers={"X-Atlassian-Webhook-Identifier": "d-2"}).json()
    redelivered = send(source, done, headers={"X-Atlassian-Webhook-Identifier": "d-2"}).json()

    number = created["events"][0]["incident_number"]
    incident = _incident(session, number)
    assert incident.title == "OPS-42: Payroll export fails"
    assert incident.description == "Since 9:00"
    assert closed["events"][0]["outcome"] == "commented"
    assert redelivered["duplicates"] == 1


def test_the_message_log_shows_each_event_once_to_admins(
    client, admin, register, send, headers_for
):
    source = register()
    send(source, _firing())
    send(source, _firing())

    log = client.get("/api/v1/inbound-messages", headers=admin).json()
    assert [(item["source"], item["outcome"]) for item in log["items"]] == [
        ("prometheus", "created")
    ]
    assert client.get("/api/v1/inbound-messages", headers=headers_for("agent")).status_code == 403


def test_attachments_are_listed_on_the_ticket_for_those_who_see_it(
    client, session, factory, headers_for
):
    from ingest.mail import intake
    from tests.inbound.conftest import fixture_mail

    alice = factory.user(roles=("requester",), email="alice@example.com")
    received = intake.receive(session=session, raw=fixture_mail("attachments"))
    incident = _incident(session, received.incident_number)
    path = f"/api/v1/incidents/{incident.number}/attachments"

    listed = client.get(path, headers=factory.auth_headers(alice))
    other = client.get(path, headers=headers_for("requester"))

    assert listed.status_code == 200, listed.text
    assert [(item["filename"], item["size_bytes"]) for item in listed.json()] == [
        ("error.log", 17),
        ("screen.png", 70),
    ]
    assert other.status_code == 404
    download = client.get(f"{path}/{listed.json()[0]['id']}", headers=factory.auth_headers(alice))
    assert download.content == b"ERROR: disk full\n"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"


def test_an_event_the_incident_refuses_is_recorded_as_refused_not_a_server_error(
    client, admin, register, send
):
    source = register("monitor", kind="generic")

    answer = send(source, [{"event_id": "blank", "alert_key": "k", "title": "   "}])

    assert answer.status_code == 200, answer.text
    (event,) = answer.json()["events"]
    assert event["outcome"] == "refused"
    assert event["reason"].startswith("Not a valid incident")
