"""Lookups that 404 for the notification routes."""

from typing import Annotated

from fastapi import Depends

from operational.auth.dependencies import DatabaseId
from operational.core.db import DbSession
from operational.notifications import service
from operational.notifications.models import OutboxMessage, Webhook


def _current_message(session: DbSession, message_id: DatabaseId) -> OutboxMessage:
    return service.get_message(session=session, message_id=message_id)


def _current_webhook(session: DbSession, webhook_id: DatabaseId) -> Webhook:
    return service.get_webhook(session=session, webhook_id=webhook_id)


CurrentMessage = Annotated[OutboxMessage, Depends(_current_message)]
CurrentWebhook = Annotated[Webhook, Depends(_current_webhook)]
