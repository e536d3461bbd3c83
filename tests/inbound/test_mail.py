"""Mail to ticket through the intake library, on the .eml fixtures (tests/fixtures/mail)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from operational.auth import service as auth_service
from operational.inbound import service as inbound_service
from operational.inbound.models import InboundMessage
from operational.incidents import flows
from operational.incidents.models import Incident, IncidentComment
from operational.incidents.schemas import IncidentUpdate
from tests.inbound.conftest import fixture_mail

NOW = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)


def _incident(session, number: str) -> Incident:
    return session.scalar(select(Incident).where(Incident.number == number))


def _comments(session, incident: Incident) -> list[str]:
    return [
        comment.body
        for comment in session.scalars(
            select(IncidentComment)
            .where(IncidentComment.incident_id == incident.id)
            .order_by(IncidentComment.id)
        )
    ]


def _raised(session, receive, alice) -> Incident:
    received = receive(fixture_mail("new"), now=NOW)
    return _incident(session, received.incident_number)


def test_a_new_mail_from_a_known_user_opens_an_incident(session, receive, alice):
    received = receive(fixture_mail("new"), now=NOW)

    assert received.outcome == "created"
    incident = _incident(session, received.incident_number)
    assert incident.title == "Printer on floor 3 is jammed"
    assert "paper jam in tray 2" in incident.description
    assert incident.requester_id == alice.id
    assert incident.opened_by_id == alice.id
    assert incident.channel == "email"


def test_the_same_mail_twice_is_acted_on_once(session, receive, alice):
    first = receive(fixture_mail("new"), now=NOW)
    again = receive(fixture_mail("new"), now=NOW)

    assert first.outcome == "created"
    assert again.duplicate
    assert (
        session.scalar(select(Incident.id).where(Incident.requester_id == alice.id).offset(1))
        is None
    )
    recorded = session.scalars(
        select(InboundMessage).where(InboundMessage.external_id == "<new-1@mail.example.com>")
    ).all()
    assert len(recorded) == 1


def test_a_reply_by_in_reply_to_becomes_a_public_comment_without_the_quote(session, receive, alice):
    incident = _raised(session, receive, alice)

    received = receive(fixture_mail("reply_header", incident.number), now=NOW + timedelta(hours=1))

    assert received.outcome == "commented"
    assert received.incident_number == incident.number
    assert _comments(session, incident) == ["It jammed again this morning."]


def test_a_reply_by_subject_becomes_a_comment(session, receive, alice):
    incident = _raised(session, receive, alice)

    received = receive(fixture_mail("reply_subject", incident.number), now=NOW + timedelta(hours=2))

    assert received.outcome == "commented"
    assert _comments(session, incident) == ["Still jammed, see my earlier mail."]


def _resolve(session, factory, incident: Incident, when: datetime) -> None:
    agent = factory.user(roles=("agent",))
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(
            assignee_id=agent.id,
            state="resolved",
            resolution_code="solved_permanently",
            resolution_notes="Cleared the jam",
        ),
        actor=agent,
        expected_version=incident.version,
        now=when,
    )


def test_a_reply_within_the_reopen_window_reopens_the_resolved_incident(
    session, receive, alice, factory
):
    incident = _raised(session, receive, alice)
    _resolve(session, factory, incident, NOW + timedelta(hours=1))

    received = receive(fixture_mail("reopen", incident.number), now=NOW + timedelta(days=2))

    assert received.outcome == "reopened"
    session.refresh(incident)
    assert incident.state == "in_progress"
    assert incident.reopen_count == 1
    assert _comments(session, incident) == ["It is not fixed: the jam is back."]


def test_a_reply_after_the_reopen_window_opens_a_follow_up(session, receive, alice, factory):
    incident = _raised(session, receive, alice)
    _resolve(session, factory, incident, NOW + timedelta(hours=1))

    received = receive(fixture_mail("reopen", incident.number), now=NOW + timedelta(days=30))

    assert received.outcome == "created"
    assert received.incident_number != incident.number
    follow_up = _incident(session, received.incident_number)
    assert follow_up.description.startswith(f"Follow-up to {incident.number}.")
    session.refresh(incident)
    assert incident.state == "resolved"


def test_auto_replies_and_bounces_never_open_or_touch_tickets(session, receive, alice):
    incident = _raised(session, receive, alice)

    auto_reply = receive(fixture_mail("auto_reply", incident.number), now=NOW)
    bounce = receive(fixture_mail("bounce"), now=NOW)

    assert auto_reply.outcome == "ignored"
    assert "Auto-Submitted" in auto_reply.reason
    assert bounce.outcome == "ignored"
    assert "bounce" in bounce.reason
    assert _comments(session, incident) == []
    assert (
        session.scalar(
            select(Incident.id)
            .where(Incident.id != incident.id)
            .where(Incident.requester_id == alice.id)
        )
        is None
    )


def test_a_null_envelope_sender_is_a_bounce(session, alice):
    from ingest.mail import intake

    received = intake.receive(session=session, raw=fixture_mail("new"), envelope_from="", now=NOW)
    assert received.outcome == "ignored"


def test_unknown_senders_are_refused_by_default(session, receive):
    received = receive(
        fixture_mail("unknown_sender"), now=NOW, inbound_mail_unknown_senders="refuse"
    )

    assert received.outcome == "refused"
    assert "stranger@example.org" in received.reason
    assert auth_service.get_by_email(session=session, email="stranger@example.org") is None


def test_unknown_senders_become_requesters_when_the_setting_says_create(session, receive):
    received = receive(
        fixture_mail("unknown_sender"), now=NOW, inbound_mail_unknown_senders="create"
    )

    assert received.outcome == "created"
    stranger = auth_service.get_by_email(session=session, email="stranger@example.org")
    assert stranger.roles == ["requester"]
    assert stranger.display_name == "Stranger"
    assert _incident(session, received.incident_number).requester_id == stranger.id


def test_attachments_are_kept_on_disk_and_listed_on_the_ticket(session, receive, alice):
    received = receive(fixture_mail("attachments"), now=NOW)

    incident = _incident(session, received.incident_number)
    assert incident.description == "See the attached screenshot and log."
    attachments = inbound_service.list_attachments(session=session, incident_id=incident.id)
    assert [(item.filename, item.content_type, item.size_bytes) for item in attachments] == [
        ("error.log", "text/plain", 17),
        ("screen.png", "image/png", 70),
    ]
    log = inbound_service.attachment_path(attachments[0].sha256)
    assert log.read_bytes() == b"ERROR: disk full\n"
    import hashlib

    assert attachments[0].sha256 == hashlib.sha256(b"ERROR: disk full\n").hexdigest()


def test_an_attachment_over_the_limit_is_not_kept_and_the_ticket_says_so(session, receive, alice):
    received = receive(fixture_mail("oversized"), now=NOW, inbound_attachment_max_bytes=100_000)

    incident = _incident(session, received.incident_number)
    assert inbound_service.list_attachments(session=session, incident_id=incident.id) == []
    assert "huge.log (120,000 bytes) was not kept" in incident.description


def test_a_mail_over_the_size_limit_is_refused_and_recorded(session, receive, alice):
    received = receive(fixture_mail("oversized"), now=NOW, inbound_mail_max_bytes=100_000)

    assert received.outcome == "refused"
    assert "limit is 100,000" in received.reason
    assert receive(fixture_mail("oversized"), now=NOW, inbound_mail_max_bytes=100_000).duplicate


def test_the_loop_guard_stops_mail_ping_pong_on_one_ticket(session, receive, alice):
    incident = _raised(session, receive, alice)
    template = fixture_mail("reply_subject", incident.number)
    outcomes = []
    for index in range(4):
        raw = template.replace(b"reply-subject-1@", f"loop-{index}@".encode())
        outcomes.append(
            receive(raw, now=NOW + timedelta(minutes=index), inbound_mail_loop_limit=3).outcome
        )

    # The mail that opened the ticket counts: three mails on it within the hour, then no more.
    assert outcomes == ["commented", "commented", "ignored", "ignored"]
    assert len(_comments(session, incident)) == 2


def test_mail_from_our_own_address_is_ignored(session, receive, factory):
    factory.user(roles=("agent",), email="alice@example.com")
    received = receive(
        fixture_mail("new"), now=NOW, inbound_mail_own_addresses=["Alice@example.com"]
    )
    assert received.outcome == "ignored"
    assert "own address" in received.reason


def test_mail_from_the_notifications_sender_is_ignored(session, receive, factory):
    factory.user(roles=("agent",), email="alice@example.com")
    received = receive(fixture_mail("new"), now=NOW, mail_from="alice@example.com")
    assert received.outcome == "ignored"
    assert "own address" in received.reason


def test_a_reply_naming_someone_elses_ticket_does_not_touch_it(session, receive, alice, bob):
    incident = _raised(session, receive, alice)
    raw = fixture_mail("reply_subject", incident.number).replace(b"alice@", b"bob@")

    received = receive(raw, now=NOW)

    assert received.outcome == "created"
    assert received.incident_number != incident.number
    assert _comments(session, incident) == []
    assert "may not see" in received.reason


def test_nul_characters_in_a_mail_never_reach_the_database(session, receive, alice):
    raw = fixture_mail("new").replace(b"Printer on floor", b"Printer\x00 on floor")

    received = receive(raw, now=NOW)

    assert received.outcome == "created"
    assert _incident(session, received.incident_number).title == "Printer on floor 3 is jammed"
