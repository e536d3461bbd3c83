"""Delivery channels, as plugins behind one small base class per capability (``base``):

- ``Channel``: sends one outbox message (``mail.SmtpChannel``, ``webhook.WebhookChannel``);
- ``WebhookFormatter``: turns an event into a webhook body (``webhook.GenericFormatter``,
  ``slack.SlackFormatter``, ``teams.TeamsFormatter``).

A new chat tool is one formatter class registered in ``FORMATTERS``; a new transport is one
channel class registered in ``operational.notifications.dispatcher``.
"""

from operational.notifications.channels.base import WebhookFormatter
from operational.notifications.channels.slack import SlackFormatter
from operational.notifications.channels.teams import TeamsFormatter
from operational.notifications.channels.webhook import GenericFormatter
from operational.notifications.enums import WebhookFormat

FORMATTERS: dict[WebhookFormat, WebhookFormatter] = {
    formatter.format: formatter
    for formatter in (GenericFormatter(), SlackFormatter(), TeamsFormatter())
}
