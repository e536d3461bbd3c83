"""The dispatcher: sends what the outbox holds, one message per transaction.

For each due message it locks the row (``SELECT ... FOR UPDATE SKIP LOCKED``: another
dispatcher, in another ``itsm serve`` or ``itsm worker``, skips it), sends it through its
channel, records the outcome and commits. So:

- a message is sent by one dispatcher at a time, never by two at once;
- a dispatcher that dies after sending and before its commit leaves the row pending: the next
  one sends it again, with the same idempotency key (the mail's Message-ID, the webhook's
  ``Idempotency-Key``) so that the receiver drops the copy. Nothing is lost; a receiver that
  honours the key sees each message once;
- a failed send is retried after an exponential back-off (``ITSM_NOTIFICATIONS_BACKOFF_SECONDS``
  x 2^(tries-1), at most ``..._BACKOFF_MAX_SECONDS``) and dead-lettered after
  ``ITSM_NOTIFICATIONS_MAX_ATTEMPTS`` tries, or at once when no retry can help (an address the
  SSRF rules refuse, a mail server's 5xx). Admins list dead letters and retry them.

The worker (``operational/worker.py``) runs ``run`` after each scan, then ``send_digests``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from operational.core.config import Settings, get_settings
from operational.core.db import session_scope
from operational.notifications import service
from operational.notifications.channels.base import Channel, DeliveryError, Outgoing
from operational.notifications.channels.mail import SmtpChannel
from operational.notifications.channels.webhook import WebhookChannel
from operational.notifications.enums import ChannelKind
from operational.notifications.models import OutboxMessage

logger = logging.getLogger("operational.notifications")


@dataclass
class DispatchReport:
    delivered: int = 0
    failed: int = 0  # tries that failed (retried later, or dead-lettered)
    dead: int = 0  # of which dead-lettered now
    digests: int = 0


def channels(settings: Settings | None = None) -> dict[str, Channel]:
    """The configured channel plugins, by the outbox's channel name. Mail needs
    ``ITSM_MAIL_HOST``: without it mail waits in the outbox (pending, untried) until it is set."""
    settings = settings or get_settings()
    found: dict[str, Channel] = {ChannelKind.webhook.value: WebhookChannel(settings)}
    if settings.mail_host:
        found[ChannelKind.mail.value] = SmtpChannel(settings)
    return found


def _outgoing(session: Session, message: OutboxMessage) -> Outgoing:
    url = secret = None
    if message.channel == ChannelKind.webhook.value:
        found = service.webhook_of(session=session, message=message)
        if found is not None:
            url, secret = found
    return Outgoing(
        id=message.id,
        idempotency_key=message.idempotency_key,
        event_type=message.event_type,
        subject=message.subject,
        body_text=message.body_text,
        body_html=message.body_html,
        recipient_address=message.recipient_address,
        headers=dict(message.headers or {}),
        payload=message.payload,
        webhook_url=url,
        webhook_secret=secret,
    )


def run(
    *,
    make_session: Callable[[], Session],
    now: datetime | None = None,
    limit: int = 200,
    plugins: dict[str, Channel] | None = None,
) -> DispatchReport:
    """Send up to ``limit`` due messages; returns what happened."""
    own = plugins is None
    plugins = plugins or channels()
    report = DispatchReport()
    try:
        _send_due(make_session, now, limit, plugins, report)
    finally:
        if own:
            for plugin in plugins.values():
                plugin.close()
    return report


def _send_due(
    make_session: Callable[[], Session],
    now: datetime | None,
    limit: int,
    plugins: dict[str, Channel],
    report: DispatchReport,
) -> None:
    for _ in range(limit):
        with session_scope(make_session) as session:
            moment = now or datetime.now(UTC)
            message = service.claim_due(session=session, now=moment, channels=list(plugins))
            if message is None:
                break
            try:
                try:
                    plugins[message.channel].send(_outgoing(session, message))
                except DeliveryError:
                    raise
                except Exception as exc:  # a bug or a secret no key opens: never block the queue
                    logger.exception("notification failed unexpectedly")
                    raise DeliveryError(f"unexpected {type(exc).__name__}: {exc}") from exc
            except DeliveryError as exc:
                service.mark_failed(
                    session=session,
                    message=message,
                    reason=exc.reason,
                    permanent=exc.permanent,
                    now=moment,
                )
                report.failed += 1
                report.dead += message.state == "dead"
                logger.warning(
                    "notification not delivered",
                    extra={"message_id": message.id, "reason": exc.reason, "state": message.state},
                )
            else:
                service.mark_delivered(session=session, message=message, now=moment)
                report.delivered += 1


def send_digests(*, make_session: Callable[[], Session], now: datetime | None = None) -> int:
    """Once the day's digest hour has passed, one digest per user of the messages held before
    it (each user in their own transaction); returns how many digests were written."""
    now = now or datetime.now(UTC)
    cutoff = service.digest_cutoff(now)
    if cutoff is None:
        return 0
    with session_scope(make_session) as session:
        user_ids = service.users_with_held(session=session, before=cutoff)
    written = 0
    for user_id in user_ids:
        with session_scope(make_session) as session:
            if service.send_digest(session=session, user_id=user_id, before=cutoff, now=now):
                written += 1
    return written
