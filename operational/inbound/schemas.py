from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.inbound.enums import AlertStatus, ResolvedAction, SourceKind

SourceName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", min_length=1, max_length=64)
]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200)]


class InboundSourceCreate(RequestBody):
    name: SourceName = Field(description="The path name: POST /api/v1/inbound/{name}")
    kind: SourceKind = SourceKind.generic
    resolved_action: ResolvedAction = Field(
        ResolvedAction.note, description="What a resolved alert does: a work note, or resolve"
    )
    assignment_group_id: int | None = Field(None, description="Team the incidents go to")
    secret: Secret | None = Field(None, description="HMAC secret; generated when not given")


class InboundSourceUpdate(RequestBody):
    kind: SourceKind | None = None
    resolved_action: ResolvedAction | None = None
    assignment_group_id: int | None = None
    is_active: bool | None = None
    rotate_secret: bool = Field(False, description="Make a new secret (shown once)")


class InboundSourceRead(ReadModel):
    id: int
    name: str
    kind: SourceKind
    resolved_action: ResolvedAction
    assignment_group_id: int | None
    user_id: int
    is_active: bool
    created_at: datetime
    updated_at: datetime
    url: str = ""


class InboundSourceWithSecret(InboundSourceRead):
    secret: str | None = Field(None, description="Shown only when created or rotated")


InboundSourcePage = Page[InboundSourceRead]


class InboundMessageRead(ReadModel):
    id: int
    channel: str
    source: str
    external_id: str
    sender: str | None
    subject: str | None
    received_at: datetime
    outcome: str
    reason: str | None
    incident_id: int | None
    size_bytes: int


InboundMessagePage = Page[InboundMessageRead]


class AttachmentRead(ReadModel):
    id: int
    incident_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


# ----------------------------------------------------------------------------- webhook payloads
# Senders' shapes: unknown fields are ignored (they are other tools' documents, not our API's).

Text300 = Annotated[str, StringConstraints(max_length=300)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class GenericEvent(BaseModel):
    """Our own shape, for any tool that can send JSON."""

    model_config = ConfigDict(extra="ignore")

    event_id: Key = Field(description="The sender's id of this event: a repeat is ignored")
    alert_key: Key = Field(description="Events with one key act on one incident")
    status: AlertStatus = AlertStatus.firing
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)] = "Alert"
    description: Annotated[str, StringConstraints(max_length=50_000)] | None = None
    impact: int = Field(2, ge=1, le=3)
    urgency: int = Field(2, ge=1, le=3)
    service: Annotated[str, StringConstraints(max_length=200)] | None = None
    configuration_item: Annotated[str, StringConstraints(max_length=200)] | None = None


class AlertmanagerAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str | None = None


class AlertmanagerPayload(BaseModel):
    """Prometheus Alertmanager's webhook (version 4)."""

    model_config = ConfigDict(extra="ignore")

    version: str | None = None
    status: AlertStatus | None = None
    alerts: list[AlertmanagerAlert] = Field(max_length=1000)
    externalURL: str | None = None


class JiraStatusCategory(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str | None = None


class JiraStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    statusCategory: JiraStatusCategory | None = None


class JiraFields(BaseModel):
    model_config = ConfigDict(extra="ignore")
    summary: str | None = None
    description: Any = None  # plain text (server) or an Atlassian document (cloud)
    status: JiraStatus | None = None


class JiraIssue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | int | None = None
    key: Key
    fields: JiraFields = Field(default_factory=JiraFields)


class JiraPayload(BaseModel):
    """A Jira issue webhook (jira:issue_created, jira:issue_updated, jira:issue_deleted)."""

    model_config = ConfigDict(extra="ignore")

    webhookEvent: Key
    timestamp: int | None = None
    issue: JiraIssue


class EventResult(BaseModel):
    event_id: str
    outcome: str = Field(description="created, commented, resolved, ignored, refused, duplicate")
    incident_number: str | None = None
    reason: str | None = None


class WebhookResult(BaseModel):
    received: int
    duplicates: int
    events: list[EventResult]
