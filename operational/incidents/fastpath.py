"""``GET /api/v1/incidents/{id}`` and ``GET /api/v1/incidents`` answered below FastAPI, for the
common cases (docs/incidents.md, "Fast reads").

A read by id is one statement that PostgreSQL writes the response of (reads.py); what it costs
in Python is mostly FastAPI's per-request dependency resolution and the auth chain's ORM user.
This ASGI middleware answers the read itself when it can answer exactly as the route would:

- ``GET``, one path segment that no other route claims, no query string;
- a bearer token whose user is in this process's auth cache and passes the whole chain of
  ``require("incident:read")`` (operational/auth/chain.py: the same checks as the dependencies);
- the incident exists, the viewer may see it (``service.is_visible_to``), PostgreSQL wrote its
  body as this viewer sees it (``reads.shown``: a requester's custom fields go to the route); the
  known error behind it, when it has a problem and the viewer sees known errors, is read with a
  second statement, the one the route's hint reads (``tickets.hints.workaround_statement``).

A list page is answered here when its query names only the page (``page``, ``size``, ``sort``,
``after``), the filters of ``IncidentFilters`` and ``fields=`` of built-in fields, each once (the
filters that take several values as often as given), with no empty value, and they validate;
the page's statements are ``reads.page``'s, and every item's body is PostgreSQL's as this viewer
sees it.

Anything else (a refusal of any kind, a missing incident, a user not cached, a query parameter,
a database error) goes on to the FastAPI route, which answers it, problems included, and stays
the documented one. The two give the same status, headers and bytes
(tests/incidents/test_fastpath.py).
"""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from dataclasses import dataclass
from inspect import isgeneratorfunction
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from operational.auth import chain
from operational.core.concurrency import etag
from operational.core.config import get_settings
from operational.core.db import get_db, get_engine, libpq_url, read_connection
from operational.core.errors import DomainError
from operational.core.pagination import MAX_PAGE_SIZE, PageParams
from operational.incidents import reads, service
from operational.incidents.schemas import IncidentFilters
from operational.tickets import hints

PREFIX = "/api/v1/incidents/"
LIST_PATH = PREFIX.rstrip("/")
PERMISSION = "incident:read"
ROUTE_PATH = PREFIX + "{incident_id}"
_PAGE_NUMBERS = ("page", "size")
_PAGE_TEXTS = ("sort", "after")
_AFTER_MAX_LENGTH = 2000  # keyset_page_params' own limit
_FIELDS = "fields"
_FIELDS_MAX_LENGTH = 2000  # the route's Query(max_length=...)
_FILTERS = frozenset(IncidentFilters.model_fields)
_FILTER_LISTS = frozenset(
    name
    for name, field in IncidentFilters.model_fields.items()
    if getattr(field.annotation, "__origin__", None) is list
)
_JSON = (b"content-type", b"application/json")
_WAIT_SECONDS = 1.0
_NOT_SERVING: frozenset[str] = frozenset({"\0"})


@dataclass
class FastReadStats:
    """On ``app.state.incident_fast_reads``: a switch, how many reads the path answered, and
    its connections while it has them."""

    enabled: bool = True
    served: int = 0  # reads by id
    listed: int = 0  # list pages
    pool: AsyncConnectionPool | None = None  # reads by id
    engine: AsyncEngine | None = None  # list pages


def _half_pool() -> int:
    """The size of each of the path's two pools: half of ``ITSM_DB_POOL_SIZE`` (at least one),
    so that the path adds no more connections to a process than it did with one pool."""
    return max(1, get_settings().db_pool_size // 2)


class _Connections:
    """The path's own connections, in autocommit, used from the event loop: a read costs no
    trip to the thread pool. Half of ``ITSM_DB_POOL_SIZE`` for reads by id (psycopg's async
    pool: a statement costs the least Python there) and half for list pages (psycopg's async
    driver under SQLAlchemy, whose statements they are), opened as needed."""

    def __init__(self, stats: FastReadStats) -> None:
        self.stats = stats
        self._opening: asyncio.Lock | None = None  # made in the running loop

    def _pool(self) -> AsyncConnectionPool:
        if self.stats.pool is None:
            url = get_engine().url.render_as_string(hide_password=False)
            self.stats.pool = AsyncConnectionPool(
                libpq_url(url),
                min_size=1,
                max_size=_half_pool(),
                kwargs={"autocommit": True},
                open=False,
                name="incident-fast-reads",
            )
        return self.stats.pool

    async def read(self, statement: tuple[str, dict[str, Any]]) -> Any:
        pool = self._pool()
        if pool.closed:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if pool.closed:
                    await pool.open()
        # Waiting long for a connection helps no one: the route has its own pool.
        async with pool.connection(timeout=_WAIT_SECONDS) as connection:
            cursor = await connection.execute(*statement)
            return await cursor.fetchone()

    def _engine(self) -> AsyncEngine:
        if self.stats.engine is None:
            self.stats.engine = create_async_engine(
                get_engine().url.set(drivername="postgresql+psycopg_async"),
                isolation_level="AUTOCOMMIT",
                pool_size=_half_pool(),
                max_overflow=0,
                pool_timeout=_WAIT_SECONDS,
            )
        return self.stats.engine

    async def page(self, *query: Any) -> bytes | None:
        """``_page_of``'s answer, in a session on the list's connections: SQLAlchemy runs the
        session's code in a greenlet that awaits the driver, so the page's statements are the
        route's, without the thread pool."""
        async with AsyncSession(self._engine(), expire_on_commit=False) as session:
            return await session.run_sync(_page_of, *query)


async def close(app: FastAPI) -> None:
    """Close the path's connections (at shutdown)."""
    stats = getattr(app.state, "incident_fast_reads", None)
    if stats is None:
        return
    if stats.pool is not None:
        pool, stats.pool = stats.pool, None
        await pool.close()
    if stats.engine is not None:
        engine, stats.engine = stats.engine, None
        await engine.dispose()


def _in_session(sessions: Any, work: Callable[..., Any], *args: Any) -> Any:
    """``work(session, *args)`` in a session of a replacement of ``get_db``
    (dependency_overrides, as the tests install one)."""
    with contextmanager(sessions)() as session:
        return work(session, *args)


def _first_row(session: Session, statement: tuple[str, dict[str, Any]]) -> Any:
    return read_connection(session).exec_driver_sql(*statement).first()


def list_query(
    query_string: bytes,
) -> tuple[IncidentFilters, PageParams, reads.Fields | None] | None:
    """The filters, page and ``fields=`` of a list's query string, parsed as the route's
    parameters parse them; None for anything else (another parameter, a repeated or empty one,
    a value the route would refuse, a ``cf.<name>`` in ``fields=``, whose check reads the
    definitions): the route answers those."""
    params = QueryParams(query_string)
    values: dict[str, Any] = {}
    only = None
    for key in params:
        given = params.getlist(key)
        if "" in given or (key not in _FILTER_LISTS and len(given) != 1):
            return None
        if key == _FIELDS:
            if len(given[0]) > _FIELDS_MAX_LENGTH:
                return None
            try:
                only = reads.builtin_fields(given[0])
            except DomainError:
                return None  # the route's 400, naming the unknown field
            if only is None:
                return None
        elif key in _FILTER_LISTS:
            values[key] = given
        elif key in _FILTERS or key in _PAGE_TEXTS:
            values[key] = given[0]
        elif key in _PAGE_NUMBERS and given[0].isdigit() and str(int(given[0])) == given[0]:
            values[key] = int(given[0])
        else:
            return None
    page = {key: values.pop(key) for key in (*_PAGE_NUMBERS, *_PAGE_TEXTS) if key in values}
    if (
        page.get("page", 1) < 1
        or not 1 <= page.get("size", 50) <= MAX_PAGE_SIZE
        or len(page.get("after", "")) > _AFTER_MAX_LENGTH
    ):
        return None
    try:
        filters = IncidentFilters.model_validate(values)
    except ValidationError:
        return None
    return filters, PageParams(**page), only


def _page_of(
    session: Session,
    viewer: Any,
    filters: IncidentFilters,
    params: PageParams,
    only: reads.Fields | None,
) -> bytes | None:
    """The list page's response, or None when an item needs the models (or a parameter the
    route refuses)."""
    try:
        found, items = reads.page(
            session=session, viewer=viewer, filters=filters, params=params, only=only
        )
    except DomainError:
        return None  # an unknown sort field, a bad cursor: the route's 400
    reads_all = service.can_read_all(viewer)
    bodies = [reads.shown(item, reads_all=reads_all, only=only) for item in items]
    if any(body is None for body in bodies):
        return None
    return reads.page_body(found, bodies)  # type: ignore[arg-type]


class IncidentFastReads:
    def __init__(self, app: ASGIApp, *, api: FastAPI, stats: FastReadStats) -> None:
        self.app = app
        self.api = api
        self.stats = stats
        self.connections = _Connections(stats)
        self._claimed: frozenset[str] | None = None  # segments of other routes under PREFIX
        self._lists = False  # the list route is there

    def _claimed_segments(self) -> frozenset[str] | None:
        """The literal segments other routes take (``priority-matrix``); None when the route
        this path stands in for is not there (then it serves nothing)."""
        if self._claimed is None:
            segments = set()
            found = False
            for route in iter_route_contexts(self.api.routes):
                path = route.path or ""
                rest = path.removeprefix(PREFIX)
                if path == LIST_PATH and "GET" in (route.methods or ()):
                    self._lists = self._lists or route.name == "list_incidents"
                if rest == path or "/" in rest:
                    continue
                if "{" not in rest:
                    segments.add(rest)
                elif path == ROUTE_PATH and "GET" in (route.methods or ()):
                    found = found or route.name == "get_incident"
            self._claimed = frozenset(segments) if found else _NOT_SERVING
        return None if self._claimed is _NOT_SERVING else self._claimed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("root_path")
            or not self.stats.enabled
        ):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == LIST_PATH:
            content = await self._list(scope)
            if content is None:
                await self.app(scope, receive, send)
                return
            self.stats.listed += 1
            # What Response(content, media_type="application/json") sends.
            await self._send(send, content, [])
            return
        if scope["query_string"] or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        body = await self._answer(scope)
        if body is None:
            await self.app(scope, receive, send)
            return
        content, version = body
        self.stats.served += 1
        # What Response(content, media_type="application/json", headers={"ETag": ...}) sends.
        await self._send(send, content, [(b"etag", etag(version).encode())])

    @staticmethod
    async def _send(send: Send, content: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        headers = [*headers, (b"content-length", str(len(content)).encode()), _JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _list(self, scope: Scope) -> bytes | None:
        self._claimed_segments()  # finds the routes, the list's among them, once
        if not self._lists:
            return None
        query = list_query(scope["query_string"])
        if query is None:
            return None
        viewer = chain.cached_viewer(_authorization(scope), PERMISSION)
        if viewer is None:
            return None
        try:
            return await self._through(self.connections.page, _page_of, viewer, *query)
        except Exception:
            return None  # the route meets the same error and answers it

    async def _answer(self, scope: Scope) -> tuple[bytes, int] | None:
        reference = scope["path"][len(PREFIX) :]
        claimed = self._claimed_segments()
        if claimed is None or not reference or "/" in reference or reference in claimed:
            return None
        viewer = chain.cached_viewer(_authorization(scope), PERMISSION)
        if viewer is None or (statement := reads.lookup(reference)) is None:
            return None
        row = await self._row(statement)
        if row is None:
            return None
        found = reads.from_row(row)
        body = reads.shown(found, reads_all=service.can_read_all(viewer))
        if body is None or not service.is_visible_to(found, viewer):
            return None
        hint = None
        known_error = hints.workaround_statement(viewer=viewer, problem_id=found.problem_id)
        if known_error is not None:
            try:
                hint = hints.workaround_of(await self._fetch(known_error))
            except Exception:
                return None  # the route meets the same error and answers it
        return reads.with_known_error(body, hint), found.version

    async def _row(self, statement: tuple[str, dict[str, Any]]) -> Any:
        try:
            return await self._fetch(statement)
        except Exception:
            return None  # the route meets the same error and answers it

    async def _fetch(self, statement: tuple[str, dict[str, Any]]) -> Any:
        """The statement's first row (None: no row); errors are the caller's."""
        return await self._through(self.connections.read, _first_row, statement)

    async def _through(
        self, own: Callable[..., Awaitable[Any]], work: Callable[..., Any], *args: Any
    ) -> Any:
        """``own(*args)`` on the path's own connections; where the tests replaced ``get_db``,
        ``work(session, *args)`` in a session of theirs, in the thread pool as the route's
        sessions work. Errors are the caller's."""
        sessions = self.api.dependency_overrides.get(get_db)
        if sessions is None:
            return await own(*args)
        if isgeneratorfunction(sessions):
            return await run_in_threadpool(_in_session, sessions, work, *args)
        raise LookupError("no session to read with")


def _authorization(scope: Scope) -> str | None:
    found = next((value for name, value in scope["headers"] if name == b"authorization"), None)
    return None if found is None else found.decode("latin-1")


def install(app: FastAPI, *, enabled: bool = True) -> None:
    """Put the path in front of the routes (inside the limits: call before adding those)."""
    stats = FastReadStats(enabled=enabled)
    app.state.incident_fast_reads = stats
    app.add_middleware(IncidentFastReads, api=app, stats=stats)
