"""Slack incoming webhooks: ``{"text": ..., "blocks": [...]}`` (mrkdwn)."""

from typing import Any

from operational.notifications.channels.base import Envelope, WebhookFormatter
from operational.notifications.enums import WebhookFormat


def _escape(text: str) -> str:
    """Slack's three control characters in text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackFormatter(WebhookFormatter):
    format = WebhookFormat.slack

    def body(self, envelope: Envelope) -> dict[str, Any]:
        title = _escape(envelope.subject)
        if envelope.url:
            title = f"<{envelope.url}|{title}>"
        return {
            "text": envelope.subject,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _escape(envelope.text[:2900])},
                },
                {
                    "type": "context",
                    "elements": [
                        {"type": "mrkdwn", "text": f"`{envelope.event_type}` · {envelope.id}"}
                    ],
                },
            ],
        }
