"""Never lost, never sent twice: two dispatchers at once, and a dispatcher killed between
sending a mail and recording it."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from operational.notifications import dispatcher, service
from operational.notifications.models import OutboxMessage
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]


def _queue(outbox, count: int) -> None:
    with outbox.make_session() as session:
        users = [Factory(session).user() for _ in range(count)]
        for number, user in enumerate(users, start=1):
            service.enqueue(
                session=session,
                event_type="incident.resolved",
                recipients=[user],
                context={"ticket_number": f"INC{number:07d}", "ticket_title": "Done"},
            )
        session.commit()


def test_two_dispatchers_at_once_send_each_message_once(outbox, mail_env):
    _queue(outbox, 30)
    start = threading.Barrier(2)
    reports = []

    def dispatch() -> None:
        start.wait()
        reports.append(dispatcher.run(make_session=outbox.make_session))

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(report.delivered for report in reports) == 30
    assert len(mail_env.received) == 30
    assert len(mail_env.by_message_id) == 30


def test_a_dispatcher_killed_after_sending_loses_nothing_and_the_copy_is_dropped(outbox, mail_env):
    """`itsm worker --once` runs in a subprocess; the SMTP server kills it (SIGKILL) as soon as
    it has the mail, before the worker can hear "250" and record the delivery."""
    _queue(outbox, 1)
    worker: dict[str, subprocess.Popen] = {}

    def kill_the_sender(mail) -> None:
        os.kill(worker["process"].pid, signal.SIGKILL)

    mail_env.on_data = kill_the_sender
    env = {**os.environ, "ITSM_DATABASE_URL": outbox.url, "ITSM_LOG_JSON": "false"}
    worker["process"] = subprocess.Popen(
        [sys.executable, "-m", "operational.cli", "worker", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = worker["process"].communicate(timeout=180)
    assert worker["process"].returncode == -signal.SIGKILL, output.decode()
    assert len(mail_env.received) == 1  # the mail arrived ...
    with outbox.make_session() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert (message.state, message.attempts) == ("pending", 0)  # ... but was not recorded

    mail_env.on_data = None
    assert dispatcher.run(make_session=outbox.make_session).delivered == 1  # not lost
    assert len(mail_env.received) == 2  # sent again, with the same Message-ID,
    assert len(mail_env.by_message_id) == 1  # so the receiver keeps one
    first, again = mail_env.received
    assert first["Message-ID"] == again["Message-ID"] == message.headers["Message-ID"]
    with outbox.make_session() as session:
        assert session.scalars(select(OutboxMessage.state)).one() == "delivered"
