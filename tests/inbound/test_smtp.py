"""The real parts: an SMTP client (smtplib) sends to the listener of `itsm mail serve` (aiosmtpd,
on a free port), and `itsm mail import` reads a Maildir; both against a database whose commits
are real."""

import mailbox
import smtplib
import socket

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ingest.mail import smtp
from operational.cli import app as cli
from operational.core.db import session_scope
from operational.inbound.models import InboundMessage
from operational.incidents.models import Incident, IncidentComment
from tests.factories import Factory
from tests.inbound.conftest import fixture_mail


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def alice_committed(committed_database):
    with session_scope() as session:
        Factory(session).user(roles=("requester",), email="alice@example.com")


@pytest.fixture
def listener(alice_committed):
    handler = smtp.MailHandler()
    controller = smtp.controller(host="127.0.0.1", port=_free_port(), handler=handler)
    controller.start()
    yield controller, handler
    controller.stop()


def _send(controller, raw: bytes, sender: str = "alice@example.com") -> None:
    with smtplib.SMTP(controller.hostname, controller.port, timeout=30) as client:
        client.sendmail(sender, ["support@itsm.example"], raw)


def test_a_mail_sent_over_smtp_opens_an_incident_and_its_reply_comments(listener):
    controller, handler = listener

    _send(controller, fixture_mail("new"))
    with session_scope() as session:
        incident = session.scalar(select(Incident).where(Incident.channel == "email"))
        assert incident.title == "Printer on floor 3 is jammed"
        number = incident.number

    _send(controller, fixture_mail("reply_header", number))
    with session_scope() as session:
        comments = session.scalars(
            select(IncidentComment.body).join(Incident).where(Incident.number == number)
        ).all()
    assert comments == ["It jammed again this morning."]
    assert [received.outcome for received in handler.received] == ["created", "commented"]


def test_the_listener_refuses_unknown_senders_with_a_550(listener):
    controller, _ = listener

    with pytest.raises(smtplib.SMTPDataError) as refused:
        _send(controller, fixture_mail("unknown_sender"), sender="stranger@example.org")

    assert refused.value.smtp_code == 550
    with session_scope() as session:
        outcome = session.scalar(
            select(InboundMessage.outcome).where(InboundMessage.sender == "stranger@example.org")
        )
    assert outcome == "refused"


def test_the_listener_accepts_an_auto_reply_without_acting_on_it(listener):
    controller, handler = listener

    _send(controller, fixture_mail("auto_reply", "INC0000001"))

    assert handler.received[0].outcome == "ignored"


def test_itsm_mail_import_reads_a_maildir_once(alice_committed, tmp_path):
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for name in ("new", "bounce", "attachments"):
        box.add(fixture_mail(name))
    runner = CliRunner()

    first = runner.invoke(cli, ["mail", "import", str(tmp_path / "Maildir")])
    again = runner.invoke(cli, ["mail", "import", str(tmp_path / "Maildir")])

    assert first.exit_code == 0, first.output
    assert "read 3 mails: 2 created, 1 ignored; 0 seen before" in first.output
    assert "read 3 mails: nothing new; 3 seen before" in again.output
    with session_scope() as session:
        assert (
            len(session.scalars(select(Incident.id).where(Incident.channel == "email")).all()) == 2
        )
