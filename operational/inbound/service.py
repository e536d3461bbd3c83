"""Inbound: the only writer of the inbound tables. Records each inbound message once, keeps mail
attachments on disk, registers webhook sources (their secrets encrypted at rest) and links alert
keys to incidents. Functions flush, never commit, and raise domain exceptions.

Mail is parsed and threaded by ``ingest.mail``; webhook payloads are mapped by
``operational.inbound.payloads``; both call the incident flows through ``flows`` / ``ingest.mail``.
"""

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import Role
from operational.auth.security import generate_password
from operational.core import encryption
from operational.core.config import Settings, get_settings
from operational.core.errors import NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.inbound.enums import AlertStatus, InboundChannel, Outcome
from operational.inbound.exceptions import InvalidSignature, SourceNameTaken, UnknownSource
from operational.inbound.models import (
    EXTERNAL_ID_LENGTH,
    InboundAlert,
    InboundAttachment,
    InboundMessage,
    InboundSource,
)
from operational.inbound.schemas import InboundSourceCreate, InboundSourceUpdate

# The headers a signature may come in, each "sha256=<hex of HMAC-SHA256(secret, raw body)>".
# X-ITSM-Signature is ours; X-Hub-Signature-256 and X-Hub-Signature are what GitHub-style
# senders (Jira's webhooks with a secret among them) use.
SIGNATURE_HEADERS = ("x-itsm-signature", "x-hub-signature-256", "x-hub-signature")
# Outcomes that did something to a ticket: the ones the loop guard counts.
ACTED = (Outcome.created, Outcome.commented, Outcome.reopened)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _plain(value: str | None, length: int) -> str | None:
    """Text as a column keeps it: no NUL characters (PostgreSQL refuses them), cut to length."""
    return value.replace("\x00", "")[:length] or None if value else None


def external_key(value: str) -> str:
    """A Message-ID or event id as stored: itself, or its sha256 when longer than the column."""
    value = value.replace("\x00", "").strip()
    if len(value) <= EXTERNAL_ID_LENGTH:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


# ------------------------------------------------------------------------------------ messages


def record_message(
    *,
    session: Session,
    channel: InboundChannel,
    source: str,
    external_id: str,
    sender: str | None = None,
    subject: str | None = None,
    size_bytes: int = 0,
    outcome: Outcome = Outcome.ignored,
    now: datetime | None = None,
) -> InboundMessage | None:
    """Record a message that came in; None when it was recorded before (the same source and
    Message-ID or event id): the caller then does nothing. A concurrent duplicate waits for the
    first one's transaction and is then a duplicate too."""
    statement = (
        insert(InboundMessage)
        .values(
            channel=channel.value,
            source=source,
            external_id=external_key(external_id),
            sender=_plain(sender, 320),
            subject=_plain(subject, 300),
            received_at=_now(now),
            outcome=outcome.value,
            size_bytes=size_bytes,
        )
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(InboundMessage.id)
    )
    message_id = session.scalar(statement)
    if message_id is None:
        return None
    return session.get(InboundMessage, message_id)


def settle(
    *,
    session: Session,
    message: InboundMessage,
    outcome: Outcome,
    reason: str | None = None,
    incident_id: int | None = None,
) -> InboundMessage:
    message.outcome = outcome.value
    message.reason = _plain(reason, 2000)
    message.incident_id = incident_id
    session.flush()
    return message


def acted_recently(
    *, session: Session, sender: str, incident_id: int | None, since: datetime
) -> int:
    """How many of ``sender``'s messages since ``since`` acted on the incident (None: opened a
    new one): the loop guard's count."""
    statement = select(func.count()).where(
        InboundMessage.sender == sender,
        InboundMessage.received_at >= since,
        InboundMessage.outcome.in_([outcome.value for outcome in ACTED]),
    )
    if incident_id is None:
        statement = statement.where(InboundMessage.outcome == Outcome.created.value)
    else:
        statement = statement.where(InboundMessage.incident_id == incident_id)
    return session.scalar(statement) or 0


MESSAGE_SORTABLE = {"received_at": InboundMessage.received_at, "id": InboundMessage.id}


def list_messages(*, session: Session, params: PageParams) -> Page[Any]:
    return paginate(
        session,
        select(InboundMessage),
        params,
        sortable=MESSAGE_SORTABLE,
        default_sort=[InboundMessage.received_at.desc(), InboundMessage.id.desc()],
    )


# --------------------------------------------------------------------------------- attachments


def attachments_root() -> Path:
    return get_settings().home / "attachments"


def attachment_path(sha256: str) -> Path:
    """Where an attachment's bytes are: content-addressed, so one file per distinct content."""
    return attachments_root() / sha256[:2] / sha256


def store_attachment(
    *,
    session: Session,
    message: InboundMessage,
    incident_id: int,
    filename: str,
    content_type: str,
    payload: bytes,
) -> InboundAttachment:
    """Keep an attachment's bytes on disk (written before the row: a rolled-back transaction
    leaves at most an unreferenced file) and list it on the incident."""
    digest = hashlib.sha256(payload).hexdigest()
    path = attachment_path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{secrets.token_hex(4)}.part")
        partial.write_bytes(payload)
        partial.replace(path)
    attachment = InboundAttachment(
        incident_id=incident_id,
        message_id=message.id,
        filename=filename[:255],
        content_type=content_type[:255],
        size_bytes=len(payload),
        sha256=digest,
    )
    session.add(attachment)
    session.flush()
    return attachment


def list_attachments(*, session: Session, incident_id: int) -> Sequence[InboundAttachment]:
    return session.scalars(
        select(InboundAttachment)
        .where(InboundAttachment.incident_id == incident_id)
        .order_by(InboundAttachment.id)
    ).all()


def get_attachment(*, session: Session, incident_id: int, attachment_id: int) -> InboundAttachment:
    attachment = session.get(InboundAttachment, attachment_id)
    if attachment is None or attachment.incident_id != incident_id:
        raise NotFound(f"Incident has no attachment {attachment_id}")
    return attachment


# ------------------------------------------------------------------------------------- sources


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _integration_user(session: Session, name: str, actor: User | None) -> User:
    """The account a source's incidents and notes are written as: an agent nobody signs in as
    (a random password it never shows, and a password change required before any use)."""
    domain = get_settings().inbound_mail_domain
    email = f"inbound-{name}@{domain}"
    existing = auth_service.get_by_email(session=session, email=email)
    if existing is not None:
        return existing
    return auth_service.create_user(
        session=session,
        email=email,
        password=generate_password(),
        roles=[Role.agent],
        display_name=f"{name} (inbound webhook)",
        actor=actor,
        must_change_password=True,
    )


def _check_team(session: Session, team_id: int | None) -> None:
    if team_id is not None and auth_service.get_team(session=session, team_id=team_id) is None:
        raise UnprocessableEntity(f"There is no team {team_id}", field="assignment_group_id")


def create_source(
    *, session: Session, data: InboundSourceCreate, actor: User | None
) -> tuple[InboundSource, str]:
    """Register a webhook source; returns it and its secret (shown once, stored encrypted)."""
    if session.scalar(select(InboundSource.id).where(InboundSource.name == data.name)):
        raise SourceNameTaken(f"There is a source named {data.name!r} already")
    _check_team(session, data.assignment_group_id)
    secret = data.secret or _new_secret()
    user = _integration_user(session, data.name, actor)
    source = InboundSource(
        name=data.name,
        kind=data.kind.value,
        secret_encrypted=encryption.encrypt(secret),
        resolved_action=data.resolved_action.value,
        assignment_group_id=data.assignment_group_id,
        user_id=user.id,
    )
    session.add(source)
    session.flush()
    return source, secret


def update_source(
    *, session: Session, source: InboundSource, data: InboundSourceUpdate
) -> tuple[InboundSource, str | None]:
    """Change a source; returns it and its new secret when one was asked for (rotate_secret)."""
    fields = data.model_fields_set
    if "assignment_group_id" in fields:
        _check_team(session, data.assignment_group_id)
        source.assignment_group_id = data.assignment_group_id
    for name in ("kind", "resolved_action"):
        if name in fields and getattr(data, name) is not None:
            setattr(source, name, getattr(data, name).value)
    if "is_active" in fields and data.is_active is not None:
        source.is_active = data.is_active
    secret = None
    if data.rotate_secret:
        secret = _new_secret()
        source.secret_encrypted = encryption.encrypt(secret)
    source.updated_at = datetime.now(UTC)
    session.flush()
    return source, secret


SOURCE_SORTABLE = {"name": InboundSource.name, "created_at": InboundSource.created_at}


def list_sources(*, session: Session, params: PageParams) -> Page[Any]:
    return paginate(
        session,
        select(InboundSource),
        params,
        sortable=SOURCE_SORTABLE,
        default_sort=[InboundSource.name],
    )


def get_source(*, session: Session, source_id: int) -> InboundSource:
    source = session.get(InboundSource, source_id)
    if source is None:
        raise UnknownSource(f"There is no inbound source {source_id}")
    return source


def active_source(*, session: Session, name: str) -> InboundSource:
    """The active source of that name; anything else is not found (a 404, before the body is
    even read)."""
    source = None
    if 0 < len(name) <= 64 and "\x00" not in name:
        source = session.scalar(
            select(InboundSource).where(InboundSource.name == name, InboundSource.is_active)
        )
    if source is None:
        raise UnknownSource(f"There is no active inbound source {name[:64]!r}")
    return source


def source_user(*, session: Session, source: InboundSource) -> User:
    user = auth_service.get_user(session=session, user_id=source.user_id)
    assert user is not None  # a foreign key
    return user


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(*, source: InboundSource, body: bytes, headers: dict[str, str]) -> None:
    """Raise InvalidSignature unless one of SIGNATURE_HEADERS holds the body's HMAC-SHA256 under
    the source's secret (compared in constant time)."""
    given = next((headers[name] for name in SIGNATURE_HEADERS if headers.get(name)), None)
    if not given:
        raise InvalidSignature(
            f"Sign the raw body: header X-ITSM-Signature: sha256=<HMAC-SHA256 hex> "
            f"(source {source.name!r})"
        )
    expected = sign(encryption.decrypt(source.secret_encrypted), body)
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise InvalidSignature("The signature does not match the body under this source's secret")


# -------------------------------------------------------------------------------------- alerts


def alert_for_update(*, session: Session, source_id: int, alert_key: str) -> InboundAlert | None:
    return session.scalar(
        select(InboundAlert)
        .where(
            InboundAlert.source_id == source_id, InboundAlert.alert_key == external_key(alert_key)
        )
        .with_for_update()
    )


def link_alert(
    *,
    session: Session,
    source_id: int,
    alert_key: str,
    incident_id: int | None,
    status: AlertStatus,
    now: datetime | None = None,
) -> None:
    """Point the alert key at its incident (one row per source and key, made or updated)."""
    now = _now(now)
    statement = insert(InboundAlert).values(
        source_id=source_id,
        alert_key=external_key(alert_key),
        incident_id=incident_id,
        status=status.value,
        last_event_at=now,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["source_id", "alert_key"],
            set_={
                "incident_id": statement.excluded.incident_id,
                "status": statement.excluded.status,
                "last_event_at": statement.excluded.last_event_at,
            },
        )
    )
    session.flush()


def reencrypt_source_secrets(*, session: Session, settings: Settings | None = None) -> int:
    """Encrypt every inbound webhook source's secret again under the newest key (key
    rotation); returns how many. Raises encryption.UndecryptableSecret naming the source when
    none of the configured keys opens one."""
    sources = session.scalars(
        select(InboundSource).order_by(InboundSource.id).with_for_update()
    ).all()
    for source in sources:
        try:
            source.secret_encrypted = encryption.reencrypt(
                source.secret_encrypted, settings=settings
            )
        except encryption.UndecryptableSecret as exc:
            raise encryption.UndecryptableSecret(f"Inbound source {source.name}: {exc}") from None
    session.flush()
    return len(sources)
