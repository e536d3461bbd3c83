"""Inbound messages (mail and webhook events, each recorded once), mail attachments, webhook
sources and the alert → incident links."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.db import Base, sql_values
from operational.inbound.enums import (
    AlertStatus,
    InboundChannel,
    Outcome,
    ResolvedAction,
    SourceKind,
)

# Message-IDs and event ids longer than this are kept as their sha256 (docs/inbound.md).
EXTERNAL_ID_LENGTH = 255


class InboundMessage(Base):
    """One message that came in: a mail (source ``mail``, by Message-ID) or a webhook event (by
    the sender's event id). The unique key makes every re-delivery and re-import a no-op."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_inbound_messages_sender_received_at", "sender", "received_at"),
        CheckConstraint(f"channel in ({sql_values(InboundChannel)})", name="channel"),
        CheckConstraint(f"outcome in ({sql_values(Outcome)})", name="outcome"),
    )


class InboundAttachment(Base):
    """A mail attachment kept on disk under ITSM_HOME/attachments, by its sha256."""

    __tablename__ = "inbound_attachments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InboundSource(Base):
    """A registered webhook sender: its payload shape, its HMAC secret (encrypted at rest), what
    a resolved alert does, and the account its incidents and notes are written as."""

    __tablename__ = "inbound_sources"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    resolved_action: Mapped[str] = mapped_column(String(16), default=ResolvedAction.note.value)
    assignment_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"kind in ({sql_values(SourceKind)})", name="kind"),
        CheckConstraint(
            f"resolved_action in ({sql_values(ResolvedAction)})", name="resolved_action"
        ),
    )


class InboundAlert(Base):
    """One alert key of one source and the incident it opened: a firing alert updates this
    incident while it is open, instead of opening another."""

    __tablename__ = "inbound_alerts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("inbound_sources.id", ondelete="CASCADE"))
    alert_key: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("source_id", "alert_key"),
        CheckConstraint(f"status in ({sql_values(AlertStatus)})", name="status"),
    )
