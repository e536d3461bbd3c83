"""The stream itself: LISTEN on the event log's channel, replay after ``Last-Event-ID``, filter
each batch of notified events for the viewer (``service``, in a worker thread with a short
session of its own), heartbeat comments while nothing is sent, and end after
``stream_max_seconds`` (the client reconnects with ``Last-Event-ID``).

One PostgreSQL connection per open stream (for its LISTEN); docs/inbound.md says what that
means for sizing.
"""

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import anyio
import psycopg
from fastapi.sse import ServerSentEvent

from operational.core.config import Settings
from operational.core.db import get_engine, libpq_url, session_scope
from operational.events.service import NOTIFY_CHANNEL
from operational.live import service
from operational.live.schemas import LiveEvent

logger = logging.getLogger("operational.live")

RETRY_MILLISECONDS = 3000
# Notifications read together after the first one arrives (one visibility query per batch).
BATCH = 200
BATCH_SECONDS = 0.05


def _read(function: Callable[..., Any], **arguments: Any) -> Any:
    with session_scope() as session:
        return function(session=session, **arguments)


def _frame(event: LiveEvent) -> ServerSentEvent:
    return ServerSentEvent(
        data=event.model_dump(mode="json"), event=event.entity_type, id=str(event.id)
    )


def _ids(payloads: list[str], sent: set[int]) -> list[int]:
    ids = []
    for payload in payloads:
        try:
            notice = json.loads(payload)
        except ValueError:
            continue
        identifier = notice.get("id") if isinstance(notice, dict) else None
        if isinstance(identifier, int) and identifier not in sent:
            ids.append(identifier)
    return ids


async def events(
    *, user_id: int, last_event_id: int | None, settings: Settings
) -> AsyncIterator[ServerSentEvent]:
    url = libpq_url(get_engine().url.render_as_string(hide_password=False))
    started = time.monotonic()
    deadline = started + settings.stream_max_seconds
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        # Listen before replaying: nothing committed in between is missed.
        await connection.execute(f"listen {NOTIFY_CHANNEL}")
        yield ServerSentEvent(comment="connected", retry=RETRY_MILLISECONDS)
        last_sent = time.monotonic()
        sent: set[int] = set()
        if last_event_id is not None:
            replayed = await anyio.to_thread.run_sync(
                partial(
                    _read,
                    service.replay,
                    user_id=user_id,
                    after_id=last_event_id,
                    limit=settings.stream_replay_limit,
                )
            )
            if replayed is None:
                return
            shown, _ = replayed
            for event in shown:
                sent.add(event.id)
                yield _frame(event)
            if len(shown) >= settings.stream_replay_limit > 0:
                # More happened than a replay carries: the client reloads what it shows.
                yield ServerSentEvent(event="reset", data={"reason": "too many events to replay"})
        while (remaining := deadline - time.monotonic()) > 0:
            wait = min(settings.stream_heartbeat_seconds, remaining)
            payloads = [
                notice.payload async for notice in connection.notifies(timeout=wait, stop_after=1)
            ]
            if payloads:
                payloads += [
                    notice.payload
                    async for notice in connection.notifies(timeout=BATCH_SECONDS, stop_after=BATCH)
                ]
                ids = _ids(payloads, sent)
                if ids:
                    shown = await anyio.to_thread.run_sync(
                        partial(_read, service.named, user_id=user_id, event_ids=ids)
                    )
                    if shown is None:
                        return
                    for event in shown:
                        yield _frame(event)
                        last_sent = time.monotonic()
            if time.monotonic() - last_sent >= settings.stream_heartbeat_seconds:
                yield ServerSentEvent(comment="heartbeat")
                last_sent = time.monotonic()
