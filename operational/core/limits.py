"""Input limits: a body larger than ``ITSM_MAX_REQUEST_BYTES`` is a 413 problem, and a query
parameter a route does not declare is a 422 (``refuse_unknown_query_parameters``).

A pure ASGI middleware. A declared ``Content-Length`` over the limit is answered at once, before
the application reads anything. A body without one (chunked) is counted as it arrives and cut off
at the limit: the count raises an HTTP 413 inside the request, which the one error handler turns
into problem+json like every other error. (FastAPI's own ``max_body_size`` answers a declared
length with a plain-text 413 whatever the handlers say.)

``ConcurrencyLimit`` bounds the requests at work at once to the connection pool's size.
"""

import asyncio
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from operational.core.errors import problem


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes"


class ConcurrencyLimit:
    """At most ``limit`` requests at work at once in this process, the size of its connection
    pool: the others wait here, in the event loop, for their turn, instead of holding a thread
    while they wait for a connection (and failing when the pool's timeout runs out)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made in the running loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)


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


async def refuse_unknown_query_parameters(request: Request) -> None:
    """A global dependency: a query parameter the route does not declare, or a single-valued one
    given twice, is a 422 naming it, as an unknown body field is (``RequestBody``). A misspelt
    filter (``?stat=open``) would otherwise be ignored in silence and answer with more than was
    asked for, and of ``?q=a&q=b`` only one would count."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared = getattr(route, _DECLARED, None)
    if declared is None:  # once per route: walking its dependencies costs more than a request
        declared = (_query_fields(dependant), tuple(_query_prefixes(dependant)))
        setattr(route, _DECLARED, declared)
    declared, prefixes = declared
    errors = []
    for name in sorted(set(request.query_params)):
        if name not in declared and prefixes and name.startswith(prefixes):
            continue  # a family of parameters its dependency reads and checks itself
        if name not in declared:
            errors.append(_error(name, "Unknown query parameter", request))
        elif not declared[name] and len(request.query_params.getlist(name)) > 1:
            errors.append(_error(name, "Give this query parameter once", request))
    if errors:
        raise RequestValidationError(errors)


_DECLARED = "itsm_declared_query_parameters"


def _error(name: str, message: str, request: Request) -> dict[str, Any]:
    return {
        "type": "extra_forbidden",
        "loc": ("query", name),
        "msg": message,
        "input": request.query_params.getlist(name),
    }


def _query_fields(dependant: Dependant) -> dict[str, bool]:
    """The query parameters a route reads (a model's fields included), each with whether it
    takes several values."""
    fields: dict[str, bool] = {}
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, info in annotation.model_fields.items():
                fields[info.alias or name] = _takes_several(info.annotation)
        else:
            fields[field.alias] = _takes_several(annotation)
    for sub in dependant.dependencies:
        fields |= _query_fields(sub)
    return fields


def _query_prefixes(dependant: Dependant) -> set[str]:
    """The prefixes of the parameter families a route reads (``cf.`` for custom fields): a
    dependency declares one as its ``query_prefix`` attribute and refuses what it cannot read."""
    prefixes = set()
    if prefix := getattr(dependant.call, "query_prefix", None):
        prefixes.add(prefix)
    for sub in dependant.dependencies:
        prefixes |= _query_prefixes(sub)
    return prefixes


def _takes_several(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _takes_several(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_takes_several(argument) for argument in get_args(annotation))
    return origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set, frozenset)
