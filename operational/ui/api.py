"""The UI's way into the REST API: the API's own ASGI app, called in process over httpx.

Each call carries the browser session's bearer token and the browser's address, so the API sees
the same user and client it would see over the network: its dependencies (RBAC, object-level
lookups, throttling), its validation and its problem+json answers all apply unchanged.
"""

from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from operational.ui.sessions import BrowserSession, SessionStore

API_PREFIX = "/api/v1"


@dataclass
class Problem:
    """An API refusal, as the pages show it: status, detail and the fields it names."""

    status: int
    title: str
    detail: str
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def field_errors(self) -> dict[str, str]:
        """The 422's messages by field name (``body.title`` → ``title``)."""
        errors: dict[str, str] = {}
        for error in self.body.get("errors") or []:
            location = [str(part) for part in error.get("location", ()) if part != "body"]
            name = location[0] if location else "form"
            errors.setdefault(name, error.get("message") or "is not valid")
        return errors


class ApiError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def problem_of(response: httpx.Response) -> Problem:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return Problem(
        status=response.status_code,
        title=str(body.get("title") or response.reason_phrase),
        detail=str(body.get("detail") or response.reason_phrase),
        body=body,
    )


class Api:
    """One browser request's client of the API (``async with Api(...) as api``)."""

    def __init__(
        self,
        app: Any,
        *,
        session: BrowserSession | None,
        client_host: str,
        store: SessionStore | None = None,
    ) -> None:
        self._session = session
        self._store = store
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(client_host, 0)),
            base_url="http://ui.internal" + API_PREFIX,
        )

    async def __aenter__(self) -> "Api":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """The raw response; refreshes an expired access token once and retries."""
        session = self._session
        used = token or (session.access_token if session else None)
        response = await self._http.request(
            method, path, json=json, params=params, headers=self._headers(used, headers)
        )
        if (
            response.status_code == 401
            and token is None
            and session
            and session.refresh_token
            and await self._refresh(session, used)
        ):
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers=self._headers(session.access_token, headers),
            )
        return response

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The decoded body of a 2xx answer (None for 204); anything else raises ApiError."""
        response = await self.send(method, path, **kwargs)
        if response.is_success:
            return response.json() if response.content else None
        raise ApiError(problem_of(response))

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Any:
        return await self.call("POST", path, **kwargs)

    async def _refresh(self, session: BrowserSession, used: str | None) -> bool:
        # Two requests of one page may find the token expired together; a refresh token spent
        # twice revokes the login, so only the first refreshes and the other reuses its result.
        async with session.refresh_lock:
            if self._store is not None:
                # Another API process may have refreshed this session's tokens already.
                await anyio.to_thread.run_sync(self._store.reload_tokens, session)
            if session.access_token != used:
                return session.access_token is not None
            response = await self._http.post(
                "/auth/refresh", json={"refresh_token": session.refresh_token}
            )
            if not response.is_success:
                session.access_token = session.refresh_token = None
                return False
            tokens = response.json()
            session.access_token = tokens["access_token"]
            session.refresh_token = tokens.get("refresh_token")
            if self._store is not None:
                await anyio.to_thread.run_sync(self._store.save, session)
            return True

    @staticmethod
    def _headers(token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers
