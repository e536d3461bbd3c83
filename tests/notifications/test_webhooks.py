"""Webhooks out: a local HTTP receiver checks the signatures, answers 500 to force retries, and
the dead letter after N tries; URLs that could reach inside the network are refused."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from operational.core.config import get_settings
from operational.notifications import dispatcher, service
from operational.notifications.channels.webhook import SIGNATURE_HEADER, verify
from operational.notifications.enums import EventType, WebhookFormat
from operational.notifications.models import OutboxMessage
from tests.conftest import assert_problem
from tests.factories import Factory

T0 = datetime.now(UTC).replace(microsecond=0)


def _hook(outbox, url, *, format=WebhookFormat.generic, events=(EventType.incident_resolved,)):
    with outbox.make_session() as session:
        admin = Factory(session).user(roles=("admin",))
        hook, secret = service.create_webhook(
            session=session,
            name="receiver",
            url=url,
            format=format,
            event_types=list(events),
            actor=admin,
        )
        session.commit()
    return hook, secret


def _resolved(outbox, event_type="incident.resolved", number="INC0000099"):
    with outbox.make_session() as session:
        messages = service.enqueue(
            session=session,
            event_type=event_type,
            context={
                "ticket_number": number,
                "ticket_title": "Disk full",
                "ticket_url": f"http://itsm.test/{number}",
                "survey_url": "http://itsm.test/csat/secret-token",
            },
            now=T0,
        )
        session.commit()
    return messages


@pytest.fixture
def allow_loopback(settings_env):
    settings_env(webhooks_allow_private="true", notifications_max_attempts=3)


def test_signed_delivery_retried_after_a_500_with_the_same_idempotency_key(
    outbox, http_receiver, allow_loopback
):
    _, secret = _hook(outbox, http_receiver.url)
    (message,) = _resolved(outbox)
    http_receiver.statuses = [500]

    first = dispatcher.run(make_session=outbox.make_session, now=T0)
    assert (first.delivered, first.failed) == (0, 1)
    with outbox.make_session() as session:
        row = session.get(OutboxMessage, message.id)
        assert row.state == "pending"
        assert row.last_error.startswith("HTTP 500")
        assert row.next_attempt_at == T0 + timedelta(seconds=30)
    second = dispatcher.run(make_session=outbox.make_session, now=T0 + timedelta(seconds=30))
    assert second.delivered == 1

    assert len(http_receiver.hits) == 2
    keys = {hit.headers["Idempotency-Key"] for hit in http_receiver.hits}
    assert keys == {message.idempotency_key}
    for hit in http_receiver.hits:
        assert hit.path == "/hook"
        assert hit.headers["ITSM-Event"] == "incident.resolved"
        assert verify(secret, hit.headers[SIGNATURE_HEADER], hit.body)
        assert not verify("whsec_wrong", hit.headers[SIGNATURE_HEADER], hit.body)
        assert not verify(secret, hit.headers[SIGNATURE_HEADER], hit.body + b" ")
    body = http_receiver.hits[-1].json()
    assert body["type"] == "incident.resolved"
    assert body["id"] == message.idempotency_key
    assert body["ticket_number"] == "INC0000099"
    assert body["url"] == "http://itsm.test/INC0000099"


def test_a_stale_signature_is_refused_by_verify():
    body = b'{"id":"1"}'
    from operational.notifications.channels.webhook import signature_header

    header = signature_header("whsec_x", body, timestamp=1_000_000)
    assert verify("whsec_x", header, body, now=1_000_100)
    assert not verify("whsec_x", header, body, now=1_000_000 + 301)
    assert not verify("whsec_x", "garbage", body)


def test_a_receiver_that_keeps_failing_dead_letters_the_message(
    outbox, http_receiver, allow_loopback
):
    _hook(outbox, http_receiver.url)
    (message,) = _resolved(outbox)
    http_receiver.statuses = [500, 503, 500]
    now = T0
    for _ in range(3):
        dispatcher.run(make_session=outbox.make_session, now=now)
        now += timedelta(hours=1)
    with outbox.make_session() as session:
        row = session.get(OutboxMessage, message.id)
        assert (row.state, row.attempts) == ("dead", 3)
        assert row.last_error.startswith("HTTP 500")
        assert row.dead_at is not None
        service.retry(session=session, message=row, now=now)  # an admin's retry
        session.commit()
    assert dispatcher.run(make_session=outbox.make_session, now=now).delivered == 1
    assert len(http_receiver.hits) == 4
    assert http_receiver.duplicates == 0


def test_an_address_refused_at_send_time_is_dead_lettered_unsent(
    outbox, http_receiver, settings_env
):
    settings_env(webhooks_allow_private="true")
    _hook(outbox, http_receiver.url)
    (message,) = _resolved(outbox)
    settings_env(webhooks_allow_private="false")  # the admin setting changed since
    report = dispatcher.run(make_session=outbox.make_session, now=T0)
    assert report.dead == 1
    assert http_receiver.hits == []
    with outbox.make_session() as session:
        row = session.get(OutboxMessage, message.id)
        assert row.state == "dead"
        assert "loopback" in row.last_error


def test_slack_and_teams_bodies(outbox, http_receiver, allow_loopback):
    _hook(outbox, http_receiver.url, format=WebhookFormat.slack)
    _hook(outbox, http_receiver.url, format=WebhookFormat.teams)
    _resolved(outbox)
    assert dispatcher.run(make_session=outbox.make_session, now=T0).delivered == 2
    slack, teams = sorted((hit.json() for hit in http_receiver.hits), key=lambda b: "type" in b)
    assert slack["text"].startswith("INC0000099 resolved")
    assert "<http://itsm.test/INC0000099|INC0000099 resolved" in slack["blocks"][0]["text"]["text"]
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["actions"][0]["url"] == "http://itsm.test/INC0000099"


def test_survey_invitations_never_go_to_webhooks(outbox, allow_loopback, http_receiver):
    _hook(outbox, http_receiver.url, events=(EventType.csat_invitation,))
    assert _resolved(outbox, event_type="csat.invitation") == []


# --- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://192.168.1.20/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_internal_addresses_are_refused_at_registration(client, headers_for, url):
    response = client.post(
        "/api/v1/notifications/webhooks",
        headers=headers_for("admin"),
        json={"name": "x", "url": url, "event_types": ["incident.resolved"]},
    )
    assert_problem(response, 422, "unsafe-webhook-url")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.org/", "ftp://x.org/"])
def test_other_schemes_are_refused(client, headers_for, url):
    response = client.post(
        "/api/v1/notifications/webhooks",
        headers=headers_for("admin"),
        json={"name": "x", "url": url, "event_types": ["incident.resolved"]},
    )
    assert_problem(response, 422)


def test_admins_register_webhooks_and_see_the_secret_once(client, headers_for, settings_env):
    settings_env(webhooks_allow_private="true")
    assert get_settings().webhooks_allow_private
    admin = headers_for("admin")
    created = client.post(
        "/api/v1/notifications/webhooks",
        headers=admin,
        json={
            "name": "chat",
            "url": "http://127.0.0.1:9/hook",
            "format": "slack",
            "event_types": ["sla.breached", "incident.assigned"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    shown = client.get(f"/api/v1/notifications/webhooks/{body['id']}", headers=admin).json()
    assert "secret" not in shown
    assert shown["event_types"] == ["incident.assigned", "sla.breached"]
    rotated = client.patch(
        f"/api/v1/notifications/webhooks/{body['id']}",
        headers=admin,
        json={"rotate_secret": True, "is_active": False},
    ).json()
    assert rotated["secret"] != body["secret"]
    assert rotated["is_active"] is False
    agent = client.get("/api/v1/notifications/webhooks", headers=headers_for("agent"))
    assert_problem(agent, 403)


def test_dead_letters_are_listed_and_retried_by_admins(client, headers_for, session, factory):
    user = factory.user()
    (message,) = service.enqueue(
        session=session,
        event_type="incident.resolved",
        recipients=[user],
        context={"ticket_number": "INC0000123", "ticket_title": "x"},
    )
    service.mark_failed(
        session=session,
        message=message,
        reason="SMTP 550: 'no such user'",
        permanent=True,
        now=datetime.now(UTC),
    )
    admin = headers_for("admin")
    dead = client.get("/api/v1/notifications/dead-letters", headers=admin).json()
    assert [(item["id"], item["last_error"]) for item in dead["items"]] == [
        (message.id, "SMTP 550: 'no such user'")
    ]
    retried = client.post(f"/api/v1/notifications/outbox/{message.id}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "pending"
    again = client.post(f"/api/v1/notifications/outbox/{message.id}/retry", headers=admin)
    assert_problem(again, 409, "not-dead-lettered")
    assert session.scalars(select(OutboxMessage.state)).all() == ["pending"]
