"""The SMTP listener of ``itsm mail serve`` (aiosmtpd): every mail it accepts goes through
``intake.receive`` in its own transaction, in a worker thread (the database calls block).

Answers: 250 once the mail is recorded (also when it was ignored: an auto-reply is not bounced);
550 for a sender the settings refuse (the sending server bounces it to them); 552 for a mail over
``ITSM_INBOUND_MAIL_MAX_BYTES`` (aiosmtpd's own size limit); 451 (try again later) when the
database cannot be reached.
"""

import asyncio
import logging
import threading
from collections.abc import Callable

from aiosmtpd.controller import Controller

from ingest.mail.intake import Received, receive
from operational.core.config import get_settings
from operational.inbound.enums import Outcome

logger = logging.getLogger("ingest.mail.smtp")

Deliver = Callable[[bytes, str | None], Received]


def deliver(raw: bytes, envelope_from: str | None) -> Received:
    """Receive one mail in its own committed transaction."""
    from operational.core.db import session_scope

    with session_scope() as session:
        return receive(session=session, raw=raw, envelope_from=envelope_from)


class MailHandler:
    """aiosmtpd handler: ``handle_DATA`` hands the mail to ``deliver``."""

    def __init__(self, deliver: Deliver = deliver):
        self.deliver = deliver
        self.received: list[Received] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="replace")
        try:
            received = await asyncio.to_thread(self.deliver, raw, envelope.mail_from)
        except Exception:
            logger.exception("could not record a mail from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure; try again later"
        self.received.append(received)
        if received.outcome == Outcome.refused:
            return f"550 5.7.1 {(received.reason or 'Refused')[:200]}"
        return "250 2.0.0 OK"


def controller(
    *, host: str | None = None, port: int | None = None, handler: MailHandler | None = None
) -> Controller:
    settings = get_settings()
    return Controller(
        handler or MailHandler(),
        hostname=host or settings.inbound_mail_host,
        port=port if port is not None else settings.inbound_mail_port,
        data_size_limit=settings.inbound_mail_max_bytes,
    )


def serve(*, host: str | None = None, port: int | None = None, stop: threading.Event) -> None:
    """Listen until ``stop`` is set."""
    listener = controller(host=host, port=port)
    listener.start()
    try:
        stop.wait()
    finally:
        listener.stop()
