"""The request body limit: a body larger than ``ITSM_MAX_REQUEST_BYTES`` is a 413 problem.

A pure ASGI middleware. A declared ``Content-Length`` over the limit is answered at once, before
the application reads anything. A body without one (chunked) is counted as it arrives and cut off
at the limit: the count raises an HTTP 413 inside the request, which the one error handler turns
into problem+json like every other error. (FastAPI's own ``max_body_size`` answers a declared
length with a plain-text 413 whatever the handlers say.)
"""

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from operational.core.errors import problem


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes"


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length") or ""
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
            response = problem(
                413,
                title="Content too large",
                detail=_too_large(self.max_bytes),
                slug="body-too-large",
                instance=scope.get("path"),
                max_bytes=self.max_bytes,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, detail=_too_large(self.max_bytes))
            return message

        await self.app(scope, counting_receive, send)
