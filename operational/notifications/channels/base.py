"""The two base classes every channel plugin implements, and what they exchange."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from operational.notifications.enums import ChannelKind, WebhookFormat


@dataclass(frozen=True)
class Outgoing:
    """One outbox message as a channel sees it (read from the row, detached from the session)."""

    id: int
    idempotency_key: str
    event_type: str
    subject: str
    body_text: str
    body_html: str | None = None
    recipient_address: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    payload: dict[str, Any] | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


class DeliveryError(Exception):
    """A send that did not happen. ``permanent``: no retry can mend it (dead-letter now)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(ABC):
    """Sends one message; returns when the receiver accepted it, raises ``DeliveryError``
    otherwise. It must be safe to send the same message twice: receivers drop the second by
    its idempotency key (Message-ID for mail, the Idempotency-Key header for webhooks)."""

    kind: ClassVar[ChannelKind]

    @abstractmethod
    def send(self, message: Outgoing) -> None: ...

    def close(self) -> None:
        """Release what ``send`` kept open between messages (the dispatcher calls it after a
        run)."""
        return None


@dataclass(frozen=True)
class Envelope:
    """What every webhook format is built from (JSON-safe values only)."""

    id: str  # the idempotency key
    event_type: str
    occurred_at: str  # ISO 8601
    subject: str  # the mail subject: one line that says what happened
    text: str  # the plain-text mail body
    ticket_number: str | None
    url: str | None  # the ticket's link
    data: dict[str, Any]  # the event's context


class WebhookFormatter(ABC):
    """Turns an event into the JSON body a kind of receiver expects."""

    format: ClassVar[WebhookFormat]

    @abstractmethod
    def body(self, envelope: Envelope) -> dict[str, Any]: ...
