"""The outbox and what decides its contents: templates, webhooks and preferences."""

from datetime import datetime
from typing import Any

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
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.db import Base, sql_values
from operational.notifications.enums import (
    ChannelKind,
    Delivery,
    EventType,
    MessageState,
    WebhookFormat,
)


class OutboxMessage(Base):
    """One message to one recipient over one channel, written in the transaction of the change
    it tells of, and sent by the dispatcher (operational/notifications/dispatcher.py).

    ``idempotency_key`` is random and fixed at enqueue time: the mail's Message-ID carries it
    and webhooks send it as ``Idempotency-Key``, so a receiver drops a message it saw already
    (the dispatcher may send one twice only when it dies between sending and recording)."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    # Mail: the user (null for a team's own address) and the address it goes to.
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    recipient_address: Mapped[str | None] = mapped_column(String(320))
    # Webhooks: the registration it goes to.
    webhook_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_webhooks.id", ondelete="CASCADE")
    )
    ticket_number: Mapped[str | None] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # Webhooks: the JSON payload (format-specific); mail: null.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Mail: Message-ID, In-Reply-To, References.
    headers: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A held message that went out in a digest: the digest's own message.
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_outbox.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint(f"state in ({sql_values(MessageState)})", name="known_state"),
        CheckConstraint(f"channel in ({sql_values(ChannelKind)})", name="known_channel"),
        CheckConstraint(f"event_type in ({sql_values(EventType)})", name="known_event_type"),
        CheckConstraint(
            "(channel = 'mail' and recipient_address is not null) or "
            "(channel = 'webhook' and webhook_id is not null)",
            name="has_destination",
        ),
        # The dispatcher's queue: pending messages by when they are due.
        Index(
            "ix_notification_outbox_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_notification_outbox_held",
            "recipient_user_id",
            postgresql_where=text("state = 'held'"),
        ),
        Index("ix_notification_outbox_state_id", "state", "id"),
    )


class MailTemplate(Base):
    """An admin's override of an event type's mail (Jinja2: subject, plain text, HTML)."""

    __tablename__ = "notification_templates"

    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint(f"event_type in ({sql_values(EventType)})", name="known_event_type"),
    )


class Webhook(Base):
    """An admin's registration: POST these event types to this URL in this format."""

    __tablename__ = "notification_webhooks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    format: Mapped[str] = mapped_column(String(16))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    # Encrypted (operational/core/encryption.py): the HMAC key that signs each delivery.
    secret: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint(f"format in ({sql_values(WebhookFormat)})", name="known_format"),
    )


class Preference(Base):
    """One user's choice for one event type (absent: the admins' default)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint(f"delivery in ({sql_values(Delivery)})", name="known_delivery"),
        CheckConstraint(f"event_type in ({sql_values(EventType)})", name="known_event_type"),
    )


class DefaultPreference(Base):
    """The admins' default for an event type (absent: mail)."""

    __tablename__ = "notification_defaults"

    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint(f"delivery in ({sql_values(Delivery)})", name="known_delivery"),
        CheckConstraint(f"event_type in ({sql_values(EventType)})", name="known_event_type"),
    )
