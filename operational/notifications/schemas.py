from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints, field_validator

from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.notifications.enums import (
    ChannelKind,
    Delivery,
    EventType,
    MessageState,
    WebhookFormat,
)


class OutboxMessageRead(ReadModel):
    id: int
    idempotency_key: str
    event_type: EventType
    channel: ChannelKind
    state: MessageState
    recipient_user_id: int | None
    recipient_address: str | None
    webhook_id: int | None
    ticket_number: str | None
    subject: str
    headers: dict[str, str]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None
    digest_id: int | None


OutboxMessagePage = Page[OutboxMessageRead]


class TemplateRead(BaseModel):
    event_type: EventType
    subject: str
    body_text: str
    body_html: str
    overridden: bool = Field(description="An admin's override (false: the built-in template)")


class TemplateUpdate(RequestBody):
    subject: str = Field(min_length=1, max_length=300)
    body_text: str = Field(min_length=1)
    body_html: str = Field(min_length=1)


WebhookUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]


def _event_types(values: list[EventType]) -> list[EventType]:
    if EventType.digest in values:
        raise ValueError("the digest goes to users only, never to webhooks")
    return values


class WebhookCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    url: WebhookUrl = Field(description="http(s) only; private addresses need an admin setting")
    format: WebhookFormat = WebhookFormat.generic
    event_types: list[EventType] = Field(min_length=1, max_length=len(EventType))

    _checked = field_validator("event_types")(_event_types)


class WebhookUpdate(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: WebhookUrl | None = None
    format: WebhookFormat | None = None
    event_types: list[EventType] | None = Field(
        default=None, min_length=1, max_length=len(EventType)
    )
    is_active: bool | None = None
    rotate_secret: bool = Field(default=False, description="Issue a new signing secret")

    @field_validator("event_types")
    @classmethod
    def _checked(cls, values: list[EventType] | None) -> list[EventType] | None:
        return None if values is None else _event_types(values)

    def changes(self) -> dict[str, Any]:
        fields = self.model_dump(exclude_unset=True, exclude={"rotate_secret"})
        fields = {name: value for name, value in fields.items() if value is not None}
        if "url" in fields:
            fields["url"] = str(self.url)
        return fields


class WebhookRead(ReadModel):
    id: int
    name: str
    url: str
    format: WebhookFormat
    event_types: list[EventType]
    is_active: bool
    created_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str | None = Field(
        default=None,
        description="The signing secret, shown once: on creation and when rotated",
    )


WebhookPage = Page[WebhookRead]


class PreferenceRead(BaseModel):
    event_type: EventType
    delivery: Delivery
    is_default: bool = Field(description="The admins' default (the user chose nothing)")


class PreferenceUpdate(RequestBody):
    delivery: Delivery | None = Field(description="mail, none, digest; null: the default")


class DefaultRead(BaseModel):
    event_type: EventType
    delivery: Delivery


class DefaultUpdate(RequestBody):
    delivery: Delivery
