"""Mail over SMTP (plain, STARTTLS or TLS from the start), with the platform's headers.

Every mail carries:
- ``Message-ID: <{ticket_number}.{token}@{mail_domain}>`` (``<{token}@{mail_domain}>`` when it is
  about no ticket). ``token`` is the message's idempotency key: a mail sent twice (the dispatcher
  died between sending and recording) has the same Message-ID, so the receiver can drop it. The
  inbound mail handler reads the ticket number back from ``In-Reply-To``: keep this form.
- ``In-Reply-To`` and ``References``: the ticket's thread, ``<{ticket_number}.thread@{domain}>``,
  so that every mail about one ticket is one thread in the reader's client.
- ``Auto-Submitted: auto-generated``, so that auto-replies stay quiet and loops are caught.
"""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from operational.core.config import Settings
from operational.notifications.channels.base import Channel, DeliveryError, Outgoing
from operational.notifications.enums import ChannelKind

THREAD_TOKEN = "thread"


def message_id(*, token: str, domain: str, ticket_number: str | None) -> str:
    """``<{ticket_number}.{token}@{domain}>``; documented in docs/notifications.md."""
    local = f"{ticket_number}.{token}" if ticket_number else token
    return f"<{local}@{domain}>"


def thread_headers(*, token: str, domain: str, ticket_number: str | None) -> dict[str, str]:
    """The Message-ID of a new mail, and its thread's headers when it is about a ticket."""
    headers = {"Message-ID": message_id(token=token, domain=domain, ticket_number=ticket_number)}
    if ticket_number:
        root = message_id(token=THREAD_TOKEN, domain=domain, ticket_number=ticket_number)
        headers["In-Reply-To"] = root
        headers["References"] = root
    return headers


def build(message: Outgoing, *, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.recipient_address
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(usegmt=True)
    for name, value in message.headers.items():
        mail[name] = value
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-ITSM-Event"] = message.event_type
    mail.set_content(message.body_text)
    if message.body_html:
        mail.add_alternative(message.body_html, subtype="html")
    return mail


class SmtpChannel(Channel):
    """One SMTP connection per dispatcher run, opened at the first mail and reused for the
    next ones (a connection that fails is dropped; the next mail opens a new one)."""

    kind = ChannelKind.mail

    def __init__(self, settings: Settings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        timeout = settings.mail_timeout_seconds
        if settings.mail_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.mail_host,
                settings.mail_port,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.mail_host, settings.mail_port, timeout=timeout)
        try:
            if settings.mail_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.mail_user:
                password = settings.mail_password
                smtp.login(settings.mail_user, password.get_secret_value() if password else "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: Outgoing) -> None:
        settings = self.settings
        if not settings.mail_host:
            raise DeliveryError("no mail server configured (ITSM_MAIL_HOST)")
        mail = build(message, sender=settings.mail_from)
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(
                mail, from_addr=settings.mail_from, to_addrs=[message.recipient_address]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {exc.recipients!r}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            reason = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            raise DeliveryError(reason, permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
