"""The outbox and mail: a real SMTP server (aiosmtpd) receives what the dispatcher sends."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from operational.notifications import dispatcher, service
from operational.notifications.enums import MessageState
from operational.notifications.models import OutboxMessage
from tests.factories import Factory
from tests.notifications.conftest import MAIL_DOMAIN

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _comment(session, *, to, actor=None, number="INC0000042", body="It works again."):
    return service.enqueue(
        session=session,
        event_type="incident.commented",
        recipients=to,
        actor=actor,
        context={
            "ticket_number": number,
            "ticket_title": "VPN <down> & out",
            "ticket_url": f"http://itsm.test/incidents/{number}",
            "comment_body": body,
        },
        now=T0,
    )


def test_a_rolled_back_change_sends_nothing_and_a_committed_one_is_sent_once(outbox, mail_env):
    with outbox.make_session() as session:
        requester = Factory(session).user(roles=("requester",))
        session.commit()
        requester_id, address = requester.id, requester.email
        _comment(session, to=[requester_id])
        session.rollback()  # the change and its message go together
    assert dispatcher.run(make_session=outbox.make_session).delivered == 0

    with outbox.make_session() as session:
        _comment(session, to=[requester_id])
        session.commit()
    report = dispatcher.run(make_session=outbox.make_session)
    assert report.delivered == 1
    assert [mail["To"] for mail in mail_env.received] == [address]
    assert dispatcher.run(make_session=outbox.make_session).delivered == 0  # never twice
    with outbox.make_session() as session:
        (message,) = session.scalars(select(OutboxMessage)).all()
        assert message.state == "delivered"
        assert message.attempts == 1
        assert message.delivered_at is not None


def test_mail_carries_the_ticket_its_thread_and_escaped_html(outbox, mail_env):
    hostile = '<script>alert("x")</script> & <b>bold</b>'
    with outbox.make_session() as session:
        factory = Factory(session)
        requester = factory.user(roles=("requester",), display_name="Ann <Requester>")
        agent = factory.user(roles=("agent",), display_name="Bob Agent")
        _comment(session, to=[requester.id], actor=agent, body=hostile)
        _comment(session, to=[requester.id], actor=agent, body="second")
        session.commit()
    assert dispatcher.run(make_session=outbox.make_session).delivered == 2

    first, second = mail_env.received
    assert "INC0000042" in first["Subject"]
    assert first["Subject"] == "INC0000042: new comment from Bob Agent"
    assert first["From"] == "itsm@example.org"
    assert first["Auto-Submitted"] == "auto-generated"
    pattern = re.compile(rf"<INC0000042\.[0-9a-f]{{32}}@{re.escape(MAIL_DOMAIN)}>")
    assert pattern.fullmatch(first["Message-ID"])
    assert pattern.fullmatch(second["Message-ID"])
    assert first["Message-ID"] != second["Message-ID"]
    thread = f"<INC0000042.thread@{MAIL_DOMAIN}>"
    for mail in (first, second):
        assert mail["In-Reply-To"] == thread
        assert mail["References"] == thread

    text = first.get_body(preferencelist=("plain",)).get_content()
    html = first.get_body(preferencelist=("html",)).get_content()
    assert hostile in text  # plain text as written
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "VPN &lt;down&gt; &amp; out" in html


def test_deactivated_users_users_without_address_and_the_actor_get_nothing(outbox, mail_env):
    with outbox.make_session() as session:
        factory = Factory(session)
        active = factory.user(roles=("requester",))
        gone = factory.user(roles=("requester",), is_active=False)
        actor = factory.user(roles=("agent",))
        team = factory.team()
        member = factory.user(roles=("agent",), teams=[team])
        messages = service.enqueue(
            session=session,
            event_type="incident.assigned",
            recipients=[active.id, gone.id, actor.id],
            teams=[team.id],
            actor=actor,
            context={"ticket_number": "INC0000007", "ticket_title": "Printer", "priority": 3},
        )
        assert sorted(m.recipient_address for m in messages) == sorted([active.email, member.email])
        session.commit()


def test_a_team_with_its_own_address_gets_one_mail_there(outbox, mail_env):
    with outbox.make_session() as session:
        factory = Factory(session)
        team = factory.team(email="network@example.org")
        factory.user(roles=("agent",), teams=[team])
        (message,) = service.enqueue(
            session=session,
            event_type="incident.assigned",
            teams=[team],
            context={"ticket_number": "INC0000008", "ticket_title": "Switch", "priority": 2},
        )
        assert message.recipient_address == "network@example.org"
        session.commit()
    dispatcher.run(make_session=outbox.make_session)
    assert mail_env.received[0]["Subject"] == "INC0000008 assigned: Switch"


def test_a_failing_server_is_retried_with_back_off_then_dead_lettered(outbox, settings_env):
    from tests.notifications.conftest import free_port

    settings_env(
        mail_host="127.0.0.1",
        mail_port=free_port(),  # nothing listens there
        mail_security="none",
        notifications_max_attempts=3,
        notifications_backoff_seconds=30,
    )
    with outbox.make_session() as session:
        user = Factory(session).user()
        _comment(session, to=[user])
        session.commit()
    waits = []
    now = T0
    for _ in range(3):
        report = dispatcher.run(make_session=outbox.make_session, now=now)
        assert report.failed == 1
        assert dispatcher.run(make_session=outbox.make_session, now=now).failed == 0  # not due
        with outbox.make_session() as session:
            message = session.scalars(select(OutboxMessage)).one()
        waits.append(message.next_attempt_at - now)
        now = message.next_attempt_at
    assert message.state == MessageState.dead
    assert message.attempts == 3
    assert "ConnectionRefusedError" in message.last_error
    assert waits[:2] == [timedelta(seconds=30), timedelta(seconds=60)]  # doubling


def test_without_a_mail_server_mail_waits_untried(outbox, settings_env):
    settings_env(mail_host="")
    with outbox.make_session() as session:
        user = Factory(session).user()
        _comment(session, to=[user])
        session.commit()
    assert dispatcher.run(make_session=outbox.make_session).failed == 0
    with outbox.make_session() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert (message.state, message.attempts) == ("pending", 0)
