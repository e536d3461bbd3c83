"""Preferences: each user chooses per event type (mail, none, daily digest); admins set the
defaults; deactivated users get nothing."""

from datetime import UTC, datetime

from sqlalchemy import select

from operational.notifications import dispatcher, service
from operational.notifications.enums import Delivery, EventType
from operational.notifications.models import OutboxMessage
from tests.conftest import assert_problem
from tests.factories import Factory


def _tell(session, user, event_type="incident.commented", number="INC0000001", now=None):
    return service.enqueue(
        session=session,
        event_type=event_type,
        recipients=[user],
        context={"ticket_number": number, "ticket_title": "Wi-Fi", "comment_body": "hello"},
        now=now,
    )


def test_users_choose_per_event_type_and_admins_set_the_defaults(client, factory, session):
    user = factory.user(roles=("requester",))
    mine = factory.auth_headers(user)
    listed = client.get("/api/v1/notifications/preferences", headers=mine).json()
    assert {item["delivery"] for item in listed} == {"mail"}
    assert all(item["is_default"] for item in listed)
    assert "digest" not in {item["event_type"] for item in listed}

    changed = client.put(
        "/api/v1/notifications/preferences/incident.commented",
        headers=mine,
        json={"delivery": "none"},
    )
    assert changed.status_code == 200, changed.text
    chosen = {item["event_type"]: item for item in changed.json()}
    assert chosen["incident.commented"] == {
        "event_type": "incident.commented",
        "delivery": "none",
        "is_default": False,
    }
    assert _tell(session, user) == []  # none: nothing is written

    admin = factory.auth_headers(factory.user(roles=("admin",)))
    assert_problem(
        client.put(
            "/api/v1/notifications/defaults/incident.resolved",
            headers=mine,
            json={"delivery": "digest"},
        ),
        403,
    )
    response = client.put(
        "/api/v1/notifications/defaults/incident.resolved",
        headers=admin,
        json={"delivery": "digest"},
    )
    assert response.status_code == 200, response.text
    (held,) = _tell(session, user, event_type="incident.resolved")
    assert held.state == "held"  # the default applies to who chose nothing

    back = client.put(
        "/api/v1/notifications/preferences/incident.commented",
        headers=mine,
        json={"delivery": None},
    )
    chosen = {item["event_type"]: item for item in back.json()}
    assert chosen["incident.commented"]["is_default"] is True
    assert _tell(session, user)[0].state == "pending"

    assert_problem(
        client.put(
            "/api/v1/notifications/preferences/digest", headers=mine, json={"delivery": "none"}
        ),
        422,
    )
    assert_problem(client.get("/api/v1/notifications/preferences"), 401)


def test_deactivated_users_get_nothing_even_held_digests(session, factory):
    user = factory.user()
    service.set_preference(
        session=session,
        user=user,
        event_type=EventType.incident_commented,
        delivery=Delivery.digest,
    )
    (held,) = _tell(session, user, now=datetime(2026, 6, 1, 12, tzinfo=UTC))
    user.is_active = False
    session.flush()
    assert _tell(session, user) == []
    assert (
        service.send_digest(
            session=session,
            user_id=user.id,
            before=datetime(2026, 6, 2, 7, tzinfo=UTC),
            now=datetime(2026, 6, 2, 7, tzinfo=UTC),
        )
        is None
    )
    assert held.state == "dead"


def test_the_daily_digest_collects_held_messages_into_one_mail(outbox, mail_env):
    day = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    with outbox.make_session() as session:
        user = Factory(session).user(display_name="Dee Digest")
        other = Factory(session).user()
        service.set_preference(
            session=session,
            user=user,
            event_type=EventType.incident_commented,
            delivery=Delivery.digest,
        )
        for number in ("INC0000001", "INC0000002"):
            _tell(session, user, number=number, now=day)
        _tell(session, other, now=day)  # mail as usual
        _tell(session, user, event_type="incident.resolved", now=day)  # mail as usual
        session.commit()
        user_id, address = user.id, user.email

    assert dispatcher.run(make_session=outbox.make_session).delivered == 2  # held ones wait
    before_the_hour = day.replace(day=2, hour=6)
    assert dispatcher.send_digests(make_session=outbox.make_session, now=before_the_hour) == 0
    after = day.replace(day=2, hour=7, minute=5)
    assert dispatcher.send_digests(make_session=outbox.make_session, now=after) == 1
    assert dispatcher.send_digests(make_session=outbox.make_session, now=after) == 0  # once
    assert dispatcher.run(make_session=outbox.make_session).delivered == 1

    digest = mail_env.received[-1]
    assert digest["To"] == address
    assert digest["Subject"] == "Your daily digest: 2 notifications"
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert "INC0000001: new comment from ITSM" in text
    assert "INC0000002: new comment from ITSM" in text
    with outbox.make_session() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.recipient_user_id == user_id,
                OutboxMessage.event_type == "incident.commented",
            )
        ).all()
        assert {row.state for row in rows} == {"digested"}
        assert len({row.digest_id for row in rows}) == 1
