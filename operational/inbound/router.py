from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import FileResponse

from operational.auth.dependencies import DatabaseId, require
from operational.auth.models import User
from operational.core.access import public
from operational.core.config import get_settings
from operational.core.db import DbSession
from operational.core.errors import NotFound
from operational.core.openapi import problems
from operational.core.pagination import PageQuery
from operational.inbound import flows, service
from operational.inbound.dependencies import ActiveSource, RawBody, TargetSource
from operational.inbound.models import InboundSource
from operational.inbound.schemas import (
    AttachmentRead,
    GenericEvent,
    InboundMessagePage,
    InboundMessageRead,
    InboundSourceCreate,
    InboundSourcePage,
    InboundSourceRead,
    InboundSourceUpdate,
    InboundSourceWithSecret,
    WebhookResult,
)
from operational.incidents.dependencies import CurrentIncident

router = APIRouter()

ADMIN = "inbound:admin"
SIGNATURE_DESCRIPTION = (
    "sha256=<hex HMAC-SHA256 of the raw body under the source's secret>. X-Hub-Signature-256 "
    "and X-Hub-Signature are accepted too (docs/inbound.md)."
)


def _source_read(source: InboundSource, secret: str | None = None) -> InboundSourceWithSecret:
    read = InboundSourceWithSecret.model_validate(source)
    read.url = f"{get_settings().api_base_url}/api/v1/inbound/{source.name}"
    read.secret = secret
    return read


@router.post(
    "/inbound/{source}",
    tags=["inbound"],
    summary="Receive a webhook from a registered source (HMAC-signed; no token)",
    dependencies=[public],
    responses=problems(401, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The source's shape: generic (below), Alertmanager or Jira",
            "content": {"application/json": {"schema": GenericEvent.model_json_schema()}},
        }
    },
)
def receive_webhook(
    source: ActiveSource,
    body: RawBody,
    request: Request,
    session: DbSession,
    x_itsm_signature: Annotated[str | None, Header(description=SIGNATURE_DESCRIPTION)] = None,
) -> WebhookResult:
    """A firing alert opens one incident per alert key (or notes a repeat on it); a resolved
    alert adds a work note or resolves it (the source's ``resolved_action``). Every event is
    acted on once: a repeated event id is answered as ``duplicate``. 401 when the signature is
    missing or wrong; 404 for a source that is not registered or not active."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    return flows.receive_webhook(session=session, source=source, body=body, headers=headers)


@router.post(
    "/inbound-sources",
    tags=["inbound"],
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook source; its secret is shown once",
)
def create_source(
    user: Annotated[User, require(ADMIN)], data: InboundSourceCreate, session: DbSession
) -> InboundSourceWithSecret:
    source, secret = service.create_source(session=session, data=data, actor=user)
    return _source_read(source, secret)


@router.get(
    "/inbound-sources",
    tags=["inbound"],
    summary="Webhook sources",
    dependencies=[require(ADMIN)],
)
def list_sources(session: DbSession, page: PageQuery) -> InboundSourcePage:
    found = service.list_sources(session=session, params=page)
    return found.map(lambda source: InboundSourceRead.model_validate(_source_read(source)))


@router.patch(
    "/inbound-sources/{source_id}",
    tags=["inbound"],
    summary="Change a webhook source, or rotate its secret (the new one is shown once)",
    dependencies=[require(ADMIN)],
)
def update_source(
    source: TargetSource, data: InboundSourceUpdate, session: DbSession
) -> InboundSourceWithSecret:
    source, secret = service.update_source(session=session, source=source, data=data)
    return _source_read(source, secret)


@router.get(
    "/inbound-messages",
    tags=["inbound"],
    summary="Every inbound mail and webhook event, with what became of it",
    dependencies=[require(ADMIN)],
)
def list_messages(session: DbSession, page: PageQuery) -> InboundMessagePage:
    found = service.list_messages(session=session, params=page)
    return found.map(InboundMessageRead.model_validate)


@router.get(
    "/incidents/{incident_id}/attachments",
    tags=["incidents"],
    summary="Attachments that came with the incident's mails",
    dependencies=[require("incident:read")],
)
def list_attachments(incident: CurrentIncident, session: DbSession) -> list[AttachmentRead]:
    return [
        AttachmentRead.model_validate(attachment)
        for attachment in service.list_attachments(session=session, incident_id=incident.id)
    ]


@router.get(
    "/incidents/{incident_id}/attachments/{attachment_id}",
    tags=["incidents"],
    summary="Download an attachment (always as a download: never rendered by the browser)",
    dependencies=[require("incident:read")],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The bytes"}},
)
def download_attachment(
    incident: CurrentIncident, attachment_id: DatabaseId, session: DbSession
) -> FileResponse:
    attachment = service.get_attachment(
        session=session, incident_id=incident.id, attachment_id=attachment_id
    )
    path = service.attachment_path(attachment.sha256)
    if not path.is_file():
        raise NotFound(f"The file of attachment {attachment_id} is missing from the store")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=attachment.filename,
        headers={"X-Content-Type-Options": "nosniff"},
    )
