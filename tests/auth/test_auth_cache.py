"""The signed-in user's short-lived cache: a request with a known token costs no user lookup, and
a role change, deactivation or sign-out, in this process or another, takes effect at once."""

import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

from operational.auth import cache as auth_cache
from operational.auth.models import User
from operational.core.db import libpq_url
from tests.conftest import assert_problem
from tests.factories import Factory


def _users_lookups(engine, run) -> int:
    """How many statements reading the users table ``run()`` sends."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sum(1 for statement in seen if "FROM operational.users" in statement)


def test_a_known_token_costs_no_user_lookup(client, engine, headers_for):
    headers = headers_for("agent")
    for _ in range(2):  # the first one commits the test's new user: the second caches it
        assert client.get("/api/v1/incidents", headers=headers).is_success

    again = _users_lookups(
        engine, lambda: client.get("/api/v1/incidents", headers=headers).raise_for_status()
    )

    assert again == 0


def test_a_role_change_and_a_deactivation_apply_to_the_next_request(client, factory):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    user = factory.user(roles=("agent",))
    headers = factory.auth_headers(user)
    assert client.get("/api/v1/incidents?state=new", headers=headers).is_success

    changed = client.patch(f"/api/v1/users/{user.id}", json={"roles": ["analyst"]}, headers=admin)
    assert changed.is_success, changed.text
    assert_problem(client.get("/api/v1/incidents", headers=headers), 403)

    client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin)
    assert_problem(client.get("/api/v1/auth/me", headers=headers), 401)


_END_SESSIONS = """
import sys
from datetime import UTC, datetime
from operational.auth import service
from operational.auth.models import User
from operational.core.db import session_scope
with session_scope() as session:
    user = session.get(User, int(sys.argv[1]))
    service.end_sessions(session=session, user=user, now=datetime.now(UTC))
"""


def test_a_sign_out_in_another_process_ends_the_cached_session(committed_database):
    """The API process caches the user; another process (another worker, `itsm user`) ends the
    user's sessions: the first process's snapshot goes as soon as that commits."""
    engine = create_engine(committed_database)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    listener = auth_cache.Listener(libpq_url(committed_database))
    listener.start()
    try:
        assert auth_cache.wait_until_listening(10)
        with make_session() as session, session.begin():
            user_id = Factory(session).user(roles=("agent",)).id
        # The notification of the user's own creation may still be on its way: it drops (or
        # stops) the first snapshot, so look the user up until one is kept.
        deadline = time.monotonic() + 10
        while not auth_cache.cached(user_id) and time.monotonic() < deadline:
            with make_session() as session:
                user = auth_cache.load(session=session, user_id=user_id)
                assert user.sessions_valid_after is None
            time.sleep(0.01)
        assert auth_cache.cached(user_id)

        environment = {**os.environ, "ITSM_DATABASE_URL": committed_database}
        subprocess.run(
            [sys.executable, "-c", _END_SESSIONS, str(user_id)], env=environment, check=True
        )

        deadline = time.monotonic() + 10  # waits for the notification; asserts no duration
        while auth_cache.cached(user_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not auth_cache.cached(user_id)
        with make_session() as session:
            fresh = auth_cache.load(session=session, user_id=user_id)
            assert fresh.sessions_valid_after is not None
            assert session.get(User, user_id) is fresh
    finally:
        listener.stop()
        engine.dispose()
