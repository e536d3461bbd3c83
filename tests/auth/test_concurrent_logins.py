"""The lock-out cannot be raced: parallel wrong passwords, sent at once by threads that each hold
their own HTTP connection to a real uvicorn server on a committed database, get exactly the
configured number of failures before the 423s (per account) or the 429s (per client).

Per account, the failure that reaches the limit already answers 423 (docs/auth.md, "Lockout and
throttling"): a limit of 5 gives four 401s, then 423s. Per client, the limit-th failure is still
a 401 and the next attempt a 429."""

import socket
import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from operational.core.db import session_scope
from tests.factories import Factory

PARALLEL = 30


@pytest.fixture
def live_api(committed_database: str) -> Iterator[str]:
    """The application served by uvicorn in a thread, on a committed database; its base URL."""
    from operational.main import create_app

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(PARALLEL * 2)  # connections queue here until the server accepts them
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def _post_at_once(base_url: str, bodies: list[dict[str, str]]) -> Counter[int]:
    """POST every login body in its own thread and connection, released together."""
    start = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def attempt(body: dict[str, str]) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            start.wait()
            statuses.append(http.post("/api/v1/auth/login", json=body).status_code)

    threads = [threading.Thread(target=attempt, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses)


def test_parallel_wrong_passwords_lock_the_account_after_exactly_the_limit(live_api, configure):
    limits = configure(login_max_failures_per_account=5, login_max_failures_per_client=1000)
    with session_scope() as session:
        Factory(session).user(email="target@example.com")

    statuses = _post_at_once(
        live_api, [{"email": "target@example.com", "password": "wrong-password-1"}] * PARALLEL
    )

    allowed = limits.login_max_failures_per_account - 1
    assert statuses == Counter({401: allowed, 423: PARALLEL - allowed})


def test_parallel_failures_from_one_client_are_throttled_after_exactly_the_limit(
    live_api, configure
):
    limits = configure(login_max_failures_per_account=5, login_max_failures_per_client=10)
    bodies = [
        {"email": f"nobody-{number}@example.com", "password": "wrong-password-1"}
        for number in range(PARALLEL)
    ]

    statuses = _post_at_once(live_api, bodies)

    allowed = limits.login_max_failures_per_client
    assert statuses == Counter({401: allowed, 429: PARALLEL - allowed})
