"""Server-side browser sessions: the cookie holds a random value, the tokens stay on the server.

Sessions are rows of ``ui_sessions`` (operational/ui/models.py), so every API process (``itsm
serve`` runs one per core) sees the same ones. A row's id is the SHA-256 of the cookie value,
and its state (tokens, CSRF token, who, pending steps, messages) is encrypted with the install's
Fernet key. Ending a session (logout, idle expiry) deletes the row, and logout also revokes the
login at the API, so a copied cookie opens nothing afterwards (docs/ui.md, "Sessions").
"""

import asyncio
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from operational.core import encryption
from operational.core.db import session_scope
from operational.ui.models import UiSavedFilter, UiSession

COOKIE = "itsm_ui"
IDLE = timedelta(hours=8)
_SAVED_FILTERS_PER_USER = 30
# The fields of BrowserSession kept in the row's encrypted state.
_KEPT = ("csrf_token", "access_token", "refresh_token", "pending", "me", "flash", "mfa_enrolment")


@dataclass
class BrowserSession:
    id: str  # the cookie's value; the row's key is its hash
    csrf_token: str
    access_token: str | None = None
    refresh_token: str | None = None
    # "mfa_enrolment" while the token opens only MFA enrolment; "password" while a one-time
    # password must be changed; None once fully signed in.
    pending: str | None = None
    me: dict[str, Any] | None = None
    flash: list[str] = field(default_factory=list)
    # The MFA enrolment under way (QR code and secret), between its two steps.
    mfa_enrolment: dict[str, Any] | None = None
    refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    ended: bool = False
    # Not yet stored (its first save also clears the idle sessions).
    fresh: bool = False
    # Cookie values this session had before a rotation: their rows go at the next settle.
    retired: list[str] = field(default_factory=list, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.access_token is not None and self.pending is None

    @property
    def permissions(self) -> set[str]:
        return set((self.me or {}).get("permissions", ()))

    @property
    def user_id(self) -> int | None:
        return (self.me or {}).get("id")

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _KEPT}


def _key(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


class SessionStore:
    def __init__(self, idle: timedelta = IDLE) -> None:
        self._idle = idle

    def new(self) -> BrowserSession:
        """A new session, stored when the request settles (``settle``)."""
        return BrowserSession(
            id=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(32), fresh=True
        )

    def get(self, cookie_value: str | None) -> BrowserSession | None:
        if not cookie_value or len(cookie_value) > 100:
            return None
        with session_scope() as db:
            row = db.get(UiSession, _key(cookie_value))
            if row is None:
                return None
            if row.last_seen_at < datetime.now(UTC) - self._idle:
                db.delete(row)
                return None
            try:
                state = json.loads(encryption.decrypt(row.state))
            except Exception:  # a key rotated away: the session is simply gone
                db.delete(row)
                return None
        return BrowserSession(id=cookie_value, **{k: v for k, v in state.items() if k in _KEPT})

    def settle(self, sessions: list[BrowserSession]) -> None:
        """Store what a request did to its sessions, in one transaction (the app calls it off
        the event loop after each page): rows of rotated-away ids and ended sessions go, the
        live ones are saved as the page left them."""
        now = datetime.now(UTC)
        with session_scope() as db:
            for session in sessions:
                gone = [*session.retired, *([session.id] if session.ended else [])]
                if gone:
                    db.execute(delete(UiSession).where(UiSession.id.in_([_key(g) for g in gone])))
                session.retired = []
                if session.ended:
                    continue
                if session.fresh:
                    db.execute(delete(UiSession).where(UiSession.last_seen_at < now - self._idle))
                    session.fresh = False
                row = db.get(UiSession, _key(session.id))
                if row is None:
                    row = UiSession(id=_key(session.id))
                    db.add(row)
                row.user_id = session.user_id
                row.state = encryption.encrypt(json.dumps(session.state()))
                row.last_seen_at = now

    def reload_tokens(self, session: BrowserSession) -> None:
        """The tokens as stored now (another process may have refreshed them)."""
        stored = self.get(session.id)
        if stored is not None:
            session.access_token = stored.access_token
            session.refresh_token = stored.refresh_token

    def rotate(self, session: BrowserSession) -> BrowserSession:
        """A new cookie value and CSRF token for the same session (at sign-in: no fixation);
        the old value's row goes when the request settles."""
        session.retired.append(session.id)
        session.id = secrets.token_urlsafe(32)
        session.csrf_token = secrets.token_urlsafe(32)
        return session

    def end(self, session: BrowserSession) -> None:
        """End the session: its row goes when the request settles."""
        session.access_token = session.refresh_token = None
        session.me = None
        session.ended = True

    def saved_filters(self, user_id: int) -> list[dict[str, str]]:
        with session_scope() as db:
            rows = db.scalars(
                select(UiSavedFilter)
                .where(UiSavedFilter.user_id == user_id)
                .order_by(UiSavedFilter.name)
            ).all()
            return [{"name": row.name, "query": row.query} for row in rows]

    def save_filter(self, user_id: int, name: str, query: str) -> None:
        with session_scope() as db:
            row = db.get(UiSavedFilter, (user_id, name))
            if row is None:
                count = len(
                    db.scalars(
                        select(UiSavedFilter.name).where(UiSavedFilter.user_id == user_id)
                    ).all()
                )
                if count >= _SAVED_FILTERS_PER_USER:
                    return
                row = UiSavedFilter(user_id=user_id, name=name, created_at=datetime.now(UTC))
                db.add(row)
            row.query = query

    def delete_filter(self, user_id: int, name: str) -> None:
        with session_scope() as db:
            db.execute(
                delete(UiSavedFilter).where(
                    UiSavedFilter.user_id == user_id, UiSavedFilter.name == name
                )
            )
