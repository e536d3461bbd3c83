"""Microsoft Teams incoming webhooks (and Workflows): a message with one Adaptive Card."""

from typing import Any

from operational.notifications.channels.base import Envelope, WebhookFormatter
from operational.notifications.enums import WebhookFormat


class TeamsFormatter(WebhookFormatter):
    format = WebhookFormat.teams

    def body(self, envelope: Envelope) -> dict[str, Any]:
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": envelope.subject, "weight": "Bolder", "wrap": True},
                {"type": "TextBlock", "text": envelope.text[:4000], "wrap": True},
                {
                    "type": "TextBlock",
                    "text": f"{envelope.event_type} · {envelope.id}",
                    "isSubtle": True,
                    "size": "Small",
                },
            ],
        }
        if envelope.url:
            card["actions"] = [
                {"type": "Action.OpenUrl", "title": "Open the ticket", "url": envelope.url}
            ]
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
