"""Real receivers for the outbox: an SMTP server (aiosmtpd) and an HTTP server (http.server),
both on 127.0.0.1 in this process, and a committed database the dispatcher works on."""

import email
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from operational.core.config import get_settings

# The other domains' kits, for the tests of what their flows send (test_hooks.py).
from tests.changes.conftest import changes  # noqa: F401 (fixture)
from tests.cmdb.conftest import cmdb  # noqa: F401 (fixture)
from tests.incidents.conftest import incidents  # noqa: F401 (fixture)
from tests.requests.conftest import kit  # noqa: F401 (fixture)
from tests.sla.conftest import sla  # noqa: F401 (fixture)

MAIL_FROM = "itsm@example.org"
MAIL_DOMAIN = "example.org"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class MailSink:
    """What the SMTP server received, and the mails it kept once per Message-ID (a receiver
    that honours the idempotency key)."""

    received: list[EmailMessage] = field(default_factory=list)
    by_message_id: dict[str, EmailMessage] = field(default_factory=dict)
    on_data: Callable[[EmailMessage], None] | None = None
    port: int = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        mail = email.message_from_bytes(envelope.content, policy=default_policy)
        self.received.append(mail)
        self.by_message_id.setdefault(mail["Message-ID"], mail)
        if self.on_data is not None:
            self.on_data(mail)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[MailSink]:
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def settings_env(monkeypatch) -> Callable[..., None]:
    """Set ITSM_ variables for the test and rebuild the settings (restored afterwards)."""

    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"ITSM_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def mail_env(smtp_server, settings_env) -> MailSink:
    settings_env(
        mail_host="127.0.0.1",
        mail_port=smtp_server.port,
        mail_security="none",
        mail_from=MAIL_FROM,
        notifications_backoff_seconds=30,
    )
    return smtp_server


@dataclass
class Outbox:
    """A committed database for the dispatcher, and sessions on it."""

    url: str
    engine: Engine
    make_session: sessionmaker[Session]


@pytest.fixture
def outbox(committed_database) -> Iterator[Outbox]:
    engine = create_engine(committed_database, poolclass=pool.NullPool)
    try:
        yield Outbox(
            url=committed_database,
            engine=engine,
            make_session=sessionmaker(bind=engine, expire_on_commit=False),
        )
    finally:
        engine.dispose()


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    """A webhook receiver: records every request; ``statuses`` are answered in turn (then 200)."""

    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    seen_keys: set[str] = field(default_factory=set)
    duplicates: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def http_receiver() -> Iterator[HttpSink]:
    sink = HttpSink()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                sink.hits.append(Hit(self.path, dict(self.headers.items()), body))
                status = sink.statuses.pop(0) if sink.statuses else 200
                if status == 200:
                    key = self.headers.get("Idempotency-Key", "")
                    if key in sink.seen_keys:
                        sink.duplicates += 1
                    sink.seen_keys.add(key)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
