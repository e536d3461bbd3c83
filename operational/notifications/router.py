"""Notifications: the outbox and its dead letters, mail templates and webhooks (admins), and
each user's own preferences."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from operational.auth.dependencies import CurrentUser, Now, authenticated, require
from operational.auth.models import User
from operational.core.db import DbSession
from operational.core.errors import UnprocessableEntity
from operational.core.pagination import PageQuery
from operational.notifications import service
from operational.notifications.dependencies import CurrentMessage, CurrentWebhook
from operational.notifications.enums import EventType, MessageState
from operational.notifications.schemas import (
    DefaultRead,
    DefaultUpdate,
    OutboxMessagePage,
    OutboxMessageRead,
    PreferenceRead,
    PreferenceUpdate,
    TemplateRead,
    TemplateUpdate,
    WebhookCreate,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/notifications", tags=["notifications"])

Admin = Annotated[User, require("notification:admin")]
admin_access = [require("notification:admin")]


def _not_digest(event_type: EventType) -> EventType:
    if event_type == EventType.digest:
        raise UnprocessableEntity("The digest itself has no preference: it is always mailed")
    return event_type


# --- the outbox ---------------------------------------------------------------------------------


@router.get("/outbox", dependencies=admin_access, summary="Messages in the outbox")
def list_outbox(
    session: DbSession,
    params: PageQuery,
    state: Annotated[MessageState | None, Query(description="Only messages in this state")] = None,
    event_type: Annotated[EventType | None, Query(description="Only this event type")] = None,
    ticket_number: Annotated[
        str | None, Query(max_length=32, description="Only messages about this ticket")
    ] = None,
) -> OutboxMessagePage:
    page = service.list_messages(
        session=session,
        params=params,
        state=state,
        event_type=event_type,
        ticket_number=ticket_number,
    )
    return OutboxMessagePage.model_validate(page, from_attributes=True)


@router.get(
    "/dead-letters",
    dependencies=admin_access,
    summary="Messages that failed every try (or could never be sent), with the last reason",
)
def list_dead_letters(session: DbSession, params: PageQuery) -> OutboxMessagePage:
    page = service.list_messages(session=session, params=params, state=MessageState.dead)
    return OutboxMessagePage.model_validate(page, from_attributes=True)


@router.get("/outbox/{message_id}", dependencies=admin_access, summary="One outbox message")
def get_message(message: CurrentMessage) -> OutboxMessageRead:
    return OutboxMessageRead.model_validate(message)


@router.post(
    "/outbox/{message_id}/retry",
    dependencies=admin_access,
    summary="Queue a dead letter again (409 for any other state)",
)
def retry_message(message: CurrentMessage, session: DbSession, now: Now) -> OutboxMessageRead:
    return OutboxMessageRead.model_validate(
        service.retry(session=session, message=message, now=now)
    )


# --- templates ----------------------------------------------------------------------------------


@router.get("/templates", dependencies=admin_access, summary="Every event type's mail template")
def list_templates(session: DbSession) -> list[TemplateRead]:
    return [TemplateRead(**found) for found in service.templates(session=session)]


@router.get("/templates/{event_type}", dependencies=admin_access, summary="One mail template")
def get_template(event_type: EventType, session: DbSession) -> TemplateRead:
    return TemplateRead(**service.template(session=session, event_type=event_type))


@router.put(
    "/templates/{event_type}",
    summary="Override an event type's mail (Jinja2; 422 when it does not parse)",
)
def set_template(
    event_type: EventType, data: TemplateUpdate, user: Admin, session: DbSession, now: Now
) -> TemplateRead:
    found = service.set_template(
        session=session,
        event_type=event_type,
        subject=data.subject,
        body_text=data.body_text,
        body_html=data.body_html,
        actor=user,
        now=now,
    )
    return TemplateRead(**found)


@router.delete(
    "/templates/{event_type}",
    dependencies=admin_access,
    summary="Drop the override: the built-in template applies again",
)
def reset_template(event_type: EventType, session: DbSession) -> TemplateRead:
    return TemplateRead(**service.reset_template(session=session, event_type=event_type))


# --- webhooks -----------------------------------------------------------------------------------


@router.get("/webhooks", dependencies=admin_access, summary="Registered webhooks")
def list_webhooks(session: DbSession, params: PageQuery) -> WebhookPage:
    page = service.list_webhooks(session=session, params=params)
    return WebhookPage.model_validate(page, from_attributes=True)


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook; the response shows its signing secret, this once",
)
def create_webhook(data: WebhookCreate, user: Admin, session: DbSession) -> WebhookWithSecret:
    hook, secret = service.create_webhook(
        session=session,
        name=data.name,
        url=str(data.url),
        format=data.format,
        event_types=data.event_types,
        actor=user,
    )
    return WebhookWithSecret.model_validate(hook).model_copy(update={"secret": secret})


@router.get("/webhooks/{webhook_id}", dependencies=admin_access, summary="One webhook")
def get_webhook(hook: CurrentWebhook) -> WebhookRead:
    return WebhookRead.model_validate(hook)


@router.patch(
    "/webhooks/{webhook_id}",
    dependencies=admin_access,
    summary="Change a webhook (rotate_secret: a new secret, shown in the response)",
)
def update_webhook(
    hook: CurrentWebhook, data: WebhookUpdate, session: DbSession
) -> WebhookWithSecret:
    hook, secret = service.update_webhook(
        session=session, hook=hook, changes=data.changes(), rotate_secret=data.rotate_secret
    )
    return WebhookWithSecret.model_validate(hook).model_copy(update={"secret": secret})


@router.delete(
    "/webhooks/{webhook_id}",
    dependencies=admin_access,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a webhook and its messages",
)
def delete_webhook(hook: CurrentWebhook, session: DbSession) -> Response:
    service.delete_webhook(session=session, hook=hook)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- preferences --------------------------------------------------------------------------------


@router.get(
    "/preferences",
    dependencies=[authenticated],
    summary="The signed-in user's delivery per event type",
)
def my_preferences(user: CurrentUser, session: DbSession) -> list[PreferenceRead]:
    return [PreferenceRead(**found) for found in service.preferences(session=session, user=user)]


@router.put(
    "/preferences/{event_type}",
    dependencies=[authenticated],
    summary="Choose mail, none or a daily digest for one event type (null: the default)",
)
def set_my_preference(
    event_type: EventType, data: PreferenceUpdate, user: CurrentUser, session: DbSession
) -> list[PreferenceRead]:
    found = service.set_preference(
        session=session, user=user, event_type=_not_digest(event_type), delivery=data.delivery
    )
    return [PreferenceRead(**item) for item in found]


@router.get("/defaults", dependencies=admin_access, summary="The admins' default per event type")
def list_defaults(session: DbSession) -> list[DefaultRead]:
    return [DefaultRead(**found) for found in service.default_preferences(session=session)]


@router.put(
    "/defaults/{event_type}",
    dependencies=admin_access,
    summary="Set the default delivery of an event type for users who chose none",
)
def set_default(
    event_type: EventType, data: DefaultUpdate, session: DbSession
) -> list[DefaultRead]:
    found = service.set_default(
        session=session, event_type=_not_digest(event_type), delivery=data.delivery
    )
    return [DefaultRead(**item) for item in found]
