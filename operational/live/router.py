from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from operational.core.config import get_settings
from operational.live import stream
from operational.live.dependencies import StreamUserId

router = APIRouter()


@router.get(
    "/stream",
    tags=["live"],
    summary="Live updates: the events you may see, as Server-Sent Events",
    response_class=EventSourceResponse,
)
async def live_stream(
    user_id: StreamUserId,
    last_event_id_header: Annotated[
        int | None,
        Header(alias="Last-Event-ID", ge=0, description="Resume after this event (reconnects)"),
    ] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, description="Resume after this event (a new EventSource)")
    ] = None,
) -> AsyncIterable[ServerSentEvent]:
    """Each event the caller may see, as it is committed (PostgreSQL LISTEN/NOTIFY on the event
    log): ``id:`` is the event's id, ``event:`` the record type (incident, change, ...), ``data:``
    the event (JSON). A ``: heartbeat`` comment follows any quiet stretch; the stream ends after
    ITSM_STREAM_MAX_SECONDS and the client reconnects with Last-Event-ID, which replays what it
    missed. docs/inbound.md, "Live updates", shows EventSource and ``curl -N``."""
    after = last_event_id_header if last_event_id_header is not None else last_event_id
    async for frame in stream.events(user_id=user_id, last_event_id=after, settings=get_settings()):
        yield frame
