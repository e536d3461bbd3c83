"""Webhooks out: a JSON body POSTed to a registered URL, signed with HMAC-SHA256.

Every request carries:
- ``ITSM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` (as Stripe
  does): the receiver recomputes it over the raw body, compares in constant time and refuses an
  old ``t`` (replays). ``verify`` below is the reference; docs/notifications.md shows it.
- ``Idempotency-Key``: the same for every try of one message; a receiver drops what it has seen.
- ``ITSM-Event``: the event type.

Redirects are not followed (a redirect could lead to an address the check refused).
"""

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from operational.core.config import Settings
from operational.notifications.channels import addresses
from operational.notifications.channels.base import (
    Channel,
    DeliveryError,
    Envelope,
    Outgoing,
    WebhookFormatter,
)
from operational.notifications.enums import ChannelKind, WebhookFormat

SIGNATURE_HEADER = "ITSM-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (ITSM-Signature) signs ``body`` with ``secret`` and is recent."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, fields.get("v1", ""))


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class GenericFormatter(WebhookFormatter):
    """Our own envelope: ``{"id", "type", "occurred_at", "ticket_number", "url", "subject",
    "data"}``."""

    format = WebhookFormat.generic

    def body(self, envelope: Envelope) -> dict[str, Any]:
        return {
            "id": envelope.id,
            "type": envelope.event_type,
            "occurred_at": envelope.occurred_at,
            "ticket_number": envelope.ticket_number,
            "url": envelope.url,
            "subject": envelope.subject,
            "data": envelope.data,
        }


class WebhookChannel(Channel):
    kind = ChannelKind.webhook

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None):
        self.settings = settings
        self.client = client or httpx.Client(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        )

    def close(self) -> None:
        self.client.close()

    def send(self, message: Outgoing) -> None:
        if not message.webhook_url or not message.webhook_secret or message.payload is None:
            raise DeliveryError("the webhook is switched off or gone", permanent=True)
        try:
            target = addresses.check(
                message.webhook_url, allow_private=self.settings.webhooks_allow_private
            )
        except addresses.UnsafeUrl as exc:
            raise DeliveryError(f"refused: {exc}", permanent=True) from exc
        body = encode(message.payload)
        url = httpx.URL(message.webhook_url)
        host_header = url.netloc.decode()
        pinned = url.copy_with(host=target.address, port=target.port)
        headers = {
            "Content-Type": "application/json",
            "Host": host_header,
            "User-Agent": "itsm-webhooks/1",
            SIGNATURE_HEADER: signature_header(message.webhook_secret, body),
            "Idempotency-Key": message.idempotency_key,
            "ITSM-Event": message.event_type,
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            response = self.client.post(
                pinned, content=body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryError(
                f"HTTP {response.status_code} from the receiver: {response.text[:200]!r}"
            )
