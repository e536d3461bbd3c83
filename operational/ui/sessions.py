"""Server-side browser sessions: the cookie holds a random id, the tokens stay on the server.

The store lives in the API process's memory. Ending a session (logout, expiry) forgets the
tokens here and revokes the login at the API, so a copied cookie opens nothing afterwards; a
restart of the process signs everybody out, which is the safe side (docs/ui.md, "Sessions").
"""

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

COOKIE = "itsm_ui"
IDLE_SECONDS = 8 * 3600
# Saved filters outlive a session but not the process: they are views, not records.
_SAVED_FILTERS_PER_USER = 30


@dataclass
class BrowserSession:
    id: str
    csrf_token: str
    last_seen: float
    access_token: str | None = None
    refresh_token: str | None = None
    # "mfa_enrolment" while the token opens only MFA enrolment; "password" while a one-time
    # password must be changed; None once fully signed in.
    pending: str | None = None
    me: dict[str, Any] | None = None
    flash: list[str] = field(default_factory=list)
    # What the sign-in form was last given, while it waits for a TOTP code.
    # The MFA enrolment under way (QR code and secret), between its two steps.
    mfa_enrolment: dict[str, Any] | None = None
    refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.access_token is not None and self.pending is None

    @property
    def permissions(self) -> set[str]:
        return set((self.me or {}).get("permissions", ()))

    @property
    def user_id(self) -> int | None:
        return (self.me or {}).get("id")


class SessionStore:
    def __init__(self, idle_seconds: int = IDLE_SECONDS) -> None:
        self._sessions: dict[str, BrowserSession] = {}
        self._saved_filters: dict[int, list[dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._idle_seconds = idle_seconds

    def new(self) -> BrowserSession:
        session = BrowserSession(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            last_seen=time.monotonic(),
        )
        with self._lock:
            self._expire()
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> BrowserSession | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            now = time.monotonic()
            if now - session.last_seen > self._idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def rotate(self, session: BrowserSession) -> BrowserSession:
        """A new id and CSRF token for the same session (at sign-in: no fixation)."""
        with self._lock:
            self._sessions.pop(session.id, None)
            session.id = secrets.token_urlsafe(32)
            session.csrf_token = secrets.token_urlsafe(32)
            self._sessions[session.id] = session
        return session

    def end(self, session: BrowserSession) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)
        session.access_token = session.refresh_token = None
        session.me = None

    def saved_filters(self, user_id: int) -> list[dict[str, str]]:
        with self._lock:
            return list(self._saved_filters.get(user_id, ()))

    def save_filter(self, user_id: int, name: str, query: str) -> None:
        with self._lock:
            kept = [f for f in self._saved_filters.get(user_id, []) if f["name"] != name]
            kept.append({"name": name, "query": query})
            self._saved_filters[user_id] = kept[-_SAVED_FILTERS_PER_USER:]

    def delete_filter(self, user_id: int, name: str) -> None:
        with self._lock:
            self._saved_filters[user_id] = [
                f for f in self._saved_filters.get(user_id, []) if f["name"] != name
            ]

    def _expire(self) -> None:
        cutoff = time.monotonic() - self._idle_seconds
        for key in [key for key, s in self._sessions.items() if s.last_seen < cutoff]:
            del self._sessions[key]
