"""The browser's live updates: the API's event stream (``GET /api/v1/stream``), passed through
with the session's token, so the token never reaches the page (EventSource cannot send headers,
and a token in the URL would land in logs and history).

httpx's ASGI transport waits for a whole response, and a stream never ends; so the stream is
called on the API app directly, as an ASGI server would, and its body is relayed as it comes.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from operational.ui.api import API_PREFIX
from operational.ui.web import SignedIn

router = APIRouter()


async def _relay(
    app: Any, *, token: str, last_event_id: str | None, client: tuple[str, int]
) -> tuple[int, AsyncIterator[bytes]]:
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    gone = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await messages.put(message)

    headers = [(b"authorization", f"Bearer {token}".encode()), (b"accept", b"text/event-stream")]
    if last_event_id:
        headers.append((b"last-event-id", last_event_id.encode()))
    path = f"{API_PREFIX}/stream"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": client,
        "server": ("ui.internal", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))
    start = await messages.get()
    status = int(start.get("status", 500))

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                message = await messages.get()
                if message["type"] != "http.response.body":
                    continue
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body"):
                    return
        finally:
            gone.set()
            task.cancel()

    return status, body()


@router.get("/stream")
async def live(request: Request, session: SignedIn) -> Response:
    assert session.access_token is not None
    client = (request.client.host, request.client.port) if request.client else ("unknown", 0)
    status, body = await _relay(
        request.app.state.api,
        token=session.access_token,
        last_event_id=request.headers.get("Last-Event-ID"),
        client=client,
    )
    if status != 200:
        await body.aclose()  # type: ignore[attr-defined]
        # 204 tells EventSource to stop trying; the page still refreshes now and then.
        return Response(status_code=204)
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
