"""Notifications: how fast the outbox is written and emptied.

``python bench/notifications.py [--messages 2000] [--dispatchers 1 2] [--webhooks]`` writes N
mails (one ``enqueue`` each, rendering included, one transaction per 100) into a scratch database
``itsm_bench_notifications`` (on the server of ITSM_DATABASE_URL, or the embedded one), then
empties the outbox into an SMTP server on 127.0.0.1 (aiosmtpd, in this process) with 1, then 2
dispatcher threads, and prints messages/s and whether any Message-ID arrived twice. With
``--webhooks``, the same for signed webhook posts to a local http.server receiver.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, delete, pool, text
from sqlalchemy.orm import Session, sessionmaker

from bench.scratch import scratch_database
from operational.auth.models import User, UserRole
from operational.core.config import get_settings
from operational.core.migrate import upgrade

BENCH_DATABASE = "itsm_bench_notifications"


class Sink:
    def __init__(self) -> None:
        self.count = 0
        self.ids: set[str] = set()
        self.duplicates = 0
        self.lock = threading.Lock()

    def seen(self, key: str) -> None:
        with self.lock:
            self.count += 1
            if key in self.ids:
                self.duplicates += 1
            self.ids.add(key)

    async def handle_DATA(self, server, session, envelope) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.seen(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


RUNS = iter(range(1_000_000))


def enqueue(make_session, count: int, event_type: str) -> float:
    from operational.notifications import service

    run = next(RUNS)

    with make_session() as session:
        users = [
            User(
                email=f"bench{run}.{n}@example.org",
                display_name=f"Bench {n}",
                role_rows=[UserRole(role="requester")],
            )
            for n in range(count)
        ]
        session.add_all(users)
        session.commit()
        ids = [user.id for user in users]
    started = time.perf_counter()
    for start in range(0, count, 100):
        with make_session() as session:
            for n, user_id in enumerate(ids[start : start + 100], start=start):
                service.enqueue(
                    session=session,
                    event_type=event_type,
                    recipients=[user_id] if event_type != "sla.breached" else [],
                    context={
                        "ticket_number": f"INC{n:07d}",
                        "ticket_title": "Bench <incident> & more",
                        "ticket_url": f"http://itsm.test/{n}",
                        "comment_body": "A comment " * 20,
                        "target": "resolution",
                        "due_at": "2026-01-01 10:00 UTC",
                        "priority": 3,
                    },
                )
            session.commit()
    return time.perf_counter() - started


def drain(make_session, dispatchers: int) -> float:
    from operational.notifications import dispatcher

    start = threading.Barrier(dispatchers)

    def run() -> None:
        start.wait()
        while dispatcher.run(make_session=make_session, limit=500).delivered:
            pass

    threads = [threading.Thread(target=run) for _ in range(dispatchers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--dispatchers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--webhooks", action="store_true")
    arguments = parser.parse_args()

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ.update(
        ITSM_MAIL_HOST="127.0.0.1",
        ITSM_MAIL_PORT=str(port),
        ITSM_MAIL_SECURITY="none",
        ITSM_MAIL_FROM="itsm@example.org",
        ITSM_WEBHOOKS_ALLOW_PRIVATE="true",
    )
    get_settings.cache_clear()

    url = scratch_database(BENCH_DATABASE)
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    print(f"load average {os.getloadavg()[0]:.1f}; {arguments.messages:,} messages per run")

    for dispatchers in arguments.dispatchers:
        with Session(engine) as session:
            session.execute(text("delete from operational.notification_outbox"))
            session.execute(delete(UserRole))
            session.execute(delete(User))
            session.commit()
        sink.count, sink.ids, sink.duplicates = 0, set(), 0
        written = enqueue(make_session, arguments.messages, "incident.commented")
        seconds = drain(make_session, dispatchers)
        print(
            f"mail, {dispatchers} dispatcher(s): enqueue {arguments.messages / written:,.0f}/s "
            f"({written / arguments.messages * 1000:.2f} ms each, rendering included); "
            f"sent {sink.count:,} in {seconds:.1f} s = {sink.count / seconds:,.0f}/s; "
            f"duplicates {sink.duplicates}"
        )

    if arguments.webhooks:
        hits = Sink()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hits.seen(self.headers.get("Idempotency-Key", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        from operational.notifications import service
        from operational.notifications.enums import EventType, WebhookFormat

        with make_session() as session:
            session.execute(text("delete from operational.notification_outbox"))
            admin = User(email="admin@example.org", display_name="Admin")
            session.add(admin)
            session.flush()
            service.create_webhook(
                session=session,
                name="bench",
                url=f"http://127.0.0.1:{server.server_address[1]}/hook",
                format=WebhookFormat.generic,
                event_types=[EventType.sla_breached],
                actor=admin,
            )
            session.commit()
        for dispatchers in arguments.dispatchers:
            hits.count, hits.ids, hits.duplicates = 0, set(), 0
            written = enqueue(make_session, arguments.messages, "sla.breached")
            seconds = drain(make_session, dispatchers)
            print(
                f"webhooks, {dispatchers} dispatcher(s): sent {hits.count:,} in {seconds:.1f} s "
                f"= {hits.count / seconds:,.0f}/s; duplicates {hits.duplicates}"
            )
            with Session(engine) as session:
                session.execute(delete(UserRole))
                session.execute(delete(User).where(User.email != "admin@example.org"))
                session.commit()
        server.shutdown()
    controller.stop()
    engine.dispose()


if __name__ == "__main__":
    main()
