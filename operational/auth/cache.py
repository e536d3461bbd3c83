"""The signed-in user, looked up once per request or not at all (docs/auth.md, "Speed").

The auth chain needs the token's user: is the account active, when did its sessions last end
(``sessions_valid_after`` against the token's ``iat``), which roles does it hold. ``load``
answers with one query (the user joined with its roles) or, within ``ITSM_AUTH_CACHE_SECONDS``
of the last lookup, with none: from a snapshot kept in this process.

A snapshot never outlives a change. Every flush that touches a user or their roles (a role
change, a deactivation, a password or MFA change, a sign-out: all go through the ORM) drops the
user's snapshot in this process at once, and ``pg_notify('itsm_auth', id)`` tells the other
processes, whose ``Listener`` drops theirs when the transaction commits. A process whose listener
is not connected keeps no snapshots at all, so a revoked session is refused at once everywhere.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, joinedload, lazyload, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.util import identity_key

from operational.auth.models import User, UserRole

logger = logging.getLogger("operational.auth.cache")

CHANNEL = "itsm_auth"
_COLUMNS = [attribute.key for attribute in User.__mapper__.column_attrs]

_lock = threading.Lock()
_snapshots: dict[int, tuple[float, dict[str, Any], tuple[str, ...]]] = {}
_generation = 0  # bumped by every invalidation: a lookup that raced one stores nothing
_listening = threading.Event()


def _ttl() -> float:
    from operational.core.config import get_settings

    return get_settings().auth_cache_seconds


def enabled() -> bool:
    return _ttl() > 0 and _listening.is_set()


def wait_until_listening(timeout: float) -> bool:
    """Whether this process's listener is connected (waiting up to ``timeout`` seconds)."""
    return _listening.wait(timeout)


def cached(user_id: int) -> bool:
    """Whether this process holds a live snapshot of the user."""
    with _lock:
        found = _snapshots.get(user_id)
    return found is not None and found[0] > time.monotonic()


def invalidate(user_id: int | None = None) -> None:
    """Drop one user's snapshot (``None``: every snapshot)."""
    global _generation
    with _lock:
        _generation += 1
        if user_id is None:
            _snapshots.clear()
        else:
            _snapshots.pop(user_id, None)


def _loaded(model: type, values: dict[str, Any]) -> Any:
    """An instance of ``model`` holding ``values`` as loaded from the database, detached: what a
    query would have given, without the cost of setting each attribute through its events."""
    instance = model.__mapper__.class_manager.new_instance()
    instance_state(instance).dict.update(values)
    make_transient_to_detached(instance)  # the other attributes load on first use
    return instance


def _attach(session: Session, user_id: int, columns: dict[str, Any], roles: tuple[str, ...]):
    """The snapshot as a persistent ``User`` of ``session``, without a query."""
    key = identity_key(User, user_id)
    if key in session.identity_map:
        return session.get(User, user_id)
    user = _loaded(User, columns)
    rows = [_loaded(UserRole, {"user_id": user_id, "role": role}) for role in roles]
    for row in rows:
        set_committed_value(row, "user", user)
    set_committed_value(user, "role_rows", rows)
    session.add(user)
    return user


def _live(user_id: int) -> tuple[float, dict[str, Any], tuple[str, ...]] | None:
    if not enabled():
        return None
    with _lock:
        found = _snapshots.get(user_id)
    if found is None or found[0] <= time.monotonic():
        return None
    return found


def snapshot(*, session: Session, user_id: int) -> User | None:
    """The user from this process's live snapshot, attached to ``session`` without I/O; None
    when there is none (``load`` then asks the database)."""
    found = _live(user_id)
    return None if found is None else _attach(session, user_id, found[1], found[2])


@dataclass(frozen=True, slots=True)
class Viewer:
    """What the auth chain reads of a signed-in user, without an ORM object or a session: for
    reads that need nothing else of them (the incidents' fast path, operational/incidents)."""

    id: int
    roles: tuple[str, ...]  # sorted, as User.roles
    is_active: bool
    must_change_password: bool
    sessions_valid_after: datetime | None


def viewer(user_id: int) -> Viewer | None:
    """The user from this process's live snapshot; None when there is none."""
    found = _live(user_id)
    if found is None:
        return None
    columns = found[1]
    return Viewer(
        id=user_id,
        roles=tuple(sorted(found[2])),
        is_active=columns["is_active"],
        must_change_password=columns["must_change_password"],
        sessions_valid_after=columns["sessions_valid_after"],
    )


def load(*, session: Session, user_id: int) -> User | None:
    """The user with their roles: from this process's snapshot, else one query."""
    ttl = _ttl()
    use_cache = enabled()
    if use_cache:
        now = time.monotonic()
        with _lock:
            found = _snapshots.get(user_id)
            generation = _generation
        if found is not None and found[0] > now:
            return _attach(session, user_id, found[1], found[2])
    user = session.scalars(
        select(User)
        .where(User.id == user_id)
        .options(joinedload(User.role_rows), lazyload(User.memberships))
    ).first()
    if user is None or not use_cache:
        return user
    columns = {name: getattr(user, name) for name in _COLUMNS}
    roles = tuple(row.role for row in user.role_rows)
    with _lock:
        if _generation == generation:
            _snapshots[user_id] = (time.monotonic() + ttl, columns, roles)
    return user


# --- invalidation -------------------------------------------------------------------------------


def _touched_users(session: Session) -> set[int]:
    touched: set[int] = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, User) and instance.id is not None:
            touched.add(instance.id)
        elif isinstance(instance, UserRole) and instance.user_id is not None:
            touched.add(instance.user_id)
    return touched


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    touched = _touched_users(session)
    if not touched:
        return
    for user_id in touched:
        invalidate(user_id)
    session.info.setdefault("auth_users_changed", set()).update(touched)
    # Delivered to every listening process when (and only if) the transaction commits.
    connection = session.connection()
    for user_id in touched:
        connection.execute(
            text("select pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": str(user_id)}
        )


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Again after the commit: a lookup in this process between flush and commit read the old row.
    for user_id in session.info.pop("auth_users_changed", ()):
        invalidate(user_id)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop("auth_users_changed", None)


# --- other processes ----------------------------------------------------------------------------


class Listener:
    """A daemon thread on its own connection: ``LISTEN itsm_auth``, dropping the snapshots the
    notifications name. While it is not connected the cache is off in this process."""

    def __init__(self, libpq_url: str):
        self.libpq_url = libpq_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="itsm-auth-listener", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        _listening.clear()
        invalidate()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.libpq_url, autocommit=True) as connection:
                    connection.execute(f"listen {CHANNEL}")
                    invalidate()  # whatever was missed while not listening
                    _listening.set()
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            invalidate(int(notice.payload) if notice.payload.isdigit() else None)
            except Exception:
                logger.warning("auth cache listener disconnected; retrying", exc_info=True)
            finally:
                _listening.clear()
                invalidate()
            self._stop.wait(1.0)
