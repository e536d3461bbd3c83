"""One mail → one action on the tickets, in the caller's transaction.

    recorded once by Message-ID ─> machine-sent? ours? ─> ignored
                                 └> sender known? (else refuse, or create a requester)
                                 └> a reply to a ticket the sender sees?
                                      open ──────────────> public comment
                                      resolved, in window > reopen (the reply is the reason)
                                      otherwise ─────────> a new incident ("follow-up to ...")
                                 └> loop guard: too many from the sender on one ticket in an hour
                                 └> attachments kept on disk, listed on the ticket

Every outcome is recorded on the message (``inbound_messages``), also refusals, so that an
admin sees what became of each mail (GET /api/v1/inbound-messages).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.orm import Session

from ingest.mail import threads
from ingest.mail.parsing import ParsedMail, message_id_only, parse, sender_only
from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import Role
from operational.auth.security import generate_password
from operational.core.config import Settings, get_settings
from operational.core.errors import DomainError, NotFound
from operational.core.schemas import TEXT_MAX_LENGTH
from operational.inbound import service as inbound_service
from operational.inbound.enums import InboundChannel, Outcome
from operational.inbound.models import InboundMessage
from operational.incidents import flows as incident_flows
from operational.incidents import service as incident_service
from operational.incidents.enums import OPEN_STATES, Channel, IncidentState
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate

logger = logging.getLogger("ingest.mail")

SOURCE = "mail"
LOOP_WINDOW = timedelta(hours=1)


@dataclass
class Received:
    """What became of one mail; ``duplicate`` when its Message-ID was recorded before."""

    message_id: str
    outcome: Outcome | None
    reason: str | None = None
    incident_number: str | None = None
    duplicate: bool = False


class _Stop(Exception):
    def __init__(self, outcome: Outcome, reason: str):
        self.outcome, self.reason = outcome, reason


def receive(
    *,
    session: Session,
    raw: bytes,
    envelope_from: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Received:
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    if len(raw) > settings.inbound_mail_max_bytes:
        return _record_only(
            session,
            message_id_only(raw),
            sender_only(raw),
            len(raw),
            now,
            Outcome.refused,
            f"The mail is {len(raw):,} bytes; the limit is {settings.inbound_mail_max_bytes:,}",
        )
    mail = parse(raw, envelope_from=envelope_from)
    message = inbound_service.record_message(
        session=session,
        channel=InboundChannel.mail,
        source=SOURCE,
        external_id=mail.message_id,
        sender=mail.sender,
        subject=mail.subject,
        size_bytes=mail.size,
        now=now,
    )
    if message is None:
        return Received(mail.message_id, None, "recorded before", duplicate=True)
    try:
        with session.begin_nested():
            outcome, incident, reason = _act(session, message, mail, now, settings)
    except _Stop as stop:
        outcome, incident, reason = stop.outcome, None, stop.reason
    except DomainError as exc:
        outcome, incident, reason = Outcome.refused, None, exc.detail
    except ValidationError as exc:  # a value the incident's own schema refuses
        outcome, incident = Outcome.refused, None
        reason = f"Not a valid incident: {exc.errors()[0]['msg']}"
    inbound_service.settle(
        session=session,
        message=message,
        outcome=outcome,
        reason=reason,
        incident_id=incident.id if incident else None,
    )
    logger.info(
        "mail %s from %s: %s %s",
        mail.message_id,
        mail.sender,
        outcome.value,
        incident.number if incident else (reason or ""),
    )
    return Received(mail.message_id, outcome, reason, incident.number if incident else None)


def _record_only(session, message_id, sender, size, now, outcome, reason) -> Received:
    message = inbound_service.record_message(
        session=session,
        channel=InboundChannel.mail,
        source=SOURCE,
        external_id=message_id,
        sender=sender,
        size_bytes=size,
        now=now,
    )
    if message is None:
        return Received(message_id, None, "recorded before", duplicate=True)
    inbound_service.settle(session=session, message=message, outcome=outcome, reason=reason)
    return Received(message_id, outcome, reason)


def _is_ours(address: str, settings: Settings) -> bool:
    # The notifications' From address too: our own mail coming round is never a ticket.
    own = {
        item.strip().lower() for item in [*settings.inbound_mail_own_addresses, settings.mail_from]
    }
    return address in own or address.endswith("@" + settings.inbound_mail_domain.lower())


def _sender(session: Session, mail: ParsedMail, settings: Settings) -> User:
    if not mail.sender or "@" not in mail.sender:
        raise _Stop(Outcome.refused, "The mail has no sender address")
    user = auth_service.get_by_email(session=session, email=mail.sender)
    if user is None:
        if settings.inbound_mail_unknown_senders != "create":
            raise _Stop(Outcome.refused, f"Unknown sender {mail.sender} (setting: refuse)")
        user = auth_service.create_user(
            session=session,
            email=mail.sender,
            password=generate_password(),
            roles=[Role.requester],
            display_name=mail.sender_name or None,
            must_change_password=True,
        )
    if not user.is_active:
        raise _Stop(Outcome.refused, f"The account of {mail.sender} is deactivated")
    return user


def _replied_to(session: Session, mail: ParsedMail, user: User) -> tuple[Incident | None, str]:
    number = threads.ticket_number(mail)
    if number is None:
        return None, ""
    try:
        incident = incident_service.get_by_reference(session=session, reference=number)
    except NotFound:
        return None, f"names {number}, which does not exist"
    if not incident_service.is_visible_to(incident, user):
        return None, f"names {number}, which the sender may not see"
    return incident, ""


def _guard_loop(session, mail: ParsedMail, incident_id: int | None, now, settings) -> None:
    count = inbound_service.acted_recently(
        session=session, sender=mail.sender, incident_id=incident_id, since=now - LOOP_WINDOW
    )
    if count >= settings.inbound_mail_loop_limit:
        where = "on this ticket" if incident_id else "as new tickets"
        raise _Stop(
            Outcome.ignored,
            f"Loop guard: {count} mails from {mail.sender} {where} in the last hour",
        )


def _text(text: str) -> str:
    return text if len(text) <= TEXT_MAX_LENGTH else text[: TEXT_MAX_LENGTH - 20] + "\n[… cut]"


def _act(session: Session, message: InboundMessage, mail: ParsedMail, now, settings):
    if mail.automatic:
        raise _Stop(Outcome.ignored, f"Sent by a machine: {mail.automatic}")
    if _is_ours(mail.sender, settings):
        raise _Stop(Outcome.ignored, f"Sent from our own address {mail.sender}")
    user = _sender(session, mail, settings)
    incident, note = _replied_to(session, mail, user)
    kept, dropped = _split_attachments(mail, settings)
    body = threads.reply_text(mail.body) if incident else mail.body
    body = _text(body + dropped) or "(no text)"

    if incident is not None:
        _guard_loop(session, mail, incident.id, now, settings)
        deadline = incident_service.reopen_deadline(incident)
        if incident.state in OPEN_STATES:
            incident_flows.add_comment(
                session=session, incident=incident, actor=user, body=body, is_public=True, now=now
            )
            outcome = Outcome.commented
        elif incident.state == IncidentState.resolved and deadline and now <= deadline:
            incident_flows.reopen(
                session=session, incident=incident, actor=user, reason=body, now=now
            )
            outcome = Outcome.reopened
        else:
            note = f"replies to {incident.number}, which is {incident.state}: a new incident"
            body = _text(f"Follow-up to {incident.number}.\n\n{body}")
            incident = None
    if incident is None:
        _guard_loop(session, mail, None, now, settings)
        title = threads.clean_subject(mail.subject)[:300] or "(no subject)"
        created = incident_flows.create(
            session=session,
            data=IncidentCreate(title=title, description=body),
            actor=user,
            now=now,
            channel=Channel.email,
        )
        incident, outcome = created.incident, Outcome.created
    for attachment in kept:
        inbound_service.store_attachment(
            session=session,
            message=message,
            incident_id=incident.id,
            filename=attachment.filename,
            content_type=attachment.content_type,
            payload=attachment.payload,
        )
    return outcome, incident, note or None


def _split_attachments(mail: ParsedMail, settings: Settings):
    """The attachments within the size limit, and a note naming the ones over it."""
    limit = settings.inbound_attachment_max_bytes
    kept = [item for item in mail.attachments if len(item.payload) <= limit]
    over = [item for item in mail.attachments if len(item.payload) > limit]
    note = "".join(
        f"\n\n[Attachment {item.filename} ({len(item.payload):,} bytes) was not kept: "
        f"the limit is {limit:,} bytes]"
        for item in over
    )
    return kept, note
