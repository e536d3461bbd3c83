"""The web UI's real stack, built once per test session (per xdist worker): a migrated database
with one account per kind of person, the API (with the UI mounted at /ui/) served by uvicorn on
loopback, and Debian's Chromium driven by Playwright (tests/dashboards/browser.py launches it;
Playwright never downloads a browser). Records the tests need are made through the API itself.
"""

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pyotp
import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from operational.core import encryption
from tests.conftest import _recreate_database, _sqlalchemy_url, _worker
from tests.dashboards import browser
from tests.dashboards.conftest import Server, free_port
from tests.factories import DEFAULT_PASSWORD, Factory

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
ONE_TIME_PASSWORD = "given-once-Password-7"


@dataclass(frozen=True)
class Account:
    email: str
    roles: tuple[str, ...]
    password: str = DEFAULT_PASSWORD
    totp_secret: str | None = None
    must_change_password: bool = False

    def totp(self) -> str:
        assert self.totp_secret
        return pyotp.TOTP(self.totp_secret).now()


ACCOUNTS = {
    "agent": Account("agent@ui.test", ("agent",)),
    "mfa_agent": Account("mfa-agent@ui.test", ("agent",), totp_secret=pyotp.random_base32()),
    "requester": Account("requester@ui.test", ("requester",)),
    "other_requester": Account("other-requester@ui.test", ("requester",)),
    "cab": Account("cab@ui.test", ("manager",)),
    "newcomer": Account(
        "newcomer@ui.test", ("agent",), password=ONE_TIME_PASSWORD, must_change_password=True
    ),
    "enrolling": Account("enrolling@ui.test", ("requester",)),
    "admin": Account("admin@ui.test", ("admin",)),
    "locked_out": Account("locked-out@ui.test", ("requester",)),
}


@dataclass
class Stack:
    url: str
    base_url: str
    team_id: int
    user_ids: dict[str, int]

    def api(self, who: str) -> httpx.Client:
        """An API client signed in as one of ACCOUNTS (over HTTP, as any client would)."""
        account = ACCOUNTS[who]
        body = {"email": account.email, "password": account.password}
        if account.totp_secret:
            body["totp_code"] = account.totp()
        token = httpx.post(f"{self.base_url}/api/v1/auth/login", json=body).json()
        return httpx.Client(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )


def _accounts(url: str) -> tuple[int, dict[str, int]]:
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        factory = Factory(session)
        team = factory.team(name="Service desk")
        ids = {}
        for key, account in ACCOUNTS.items():
            user = factory.user(
                roles=account.roles,
                email=account.email,
                password=account.password if account.password != DEFAULT_PASSWORD else None,
                display_name=key.replace("_", " ").title(),
                teams=(team,) if "agent" in account.roles else (),
                mfa_secret=account.totp_secret and encryption.encrypt(account.totp_secret),
                mfa_enabled=account.totp_secret is not None,
                must_change_password=account.must_change_password,
            )
            ids[key] = user.id
        session.commit()
        team_id = team.id
    engine.dispose()
    return team_id, ids


@pytest.fixture(scope="session")
def stack(
    database_server: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    name = f"itsm_ui_{_worker()}"
    _recreate_database(database_server, name, template=template_database)
    url = _sqlalchemy_url(database_server, name)
    team_id, user_ids = _accounts(url)
    port = free_port()
    api = Server(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "operational.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            # Two processes, as `itsm serve` runs on this machine: a browser's requests land on
            # either, so its session must be shared (in the database).
            "--workers",
            "2",
        ],
        env={
            **os.environ,
            "ITSM_ENVIRONMENT": "test",
            "ITSM_DATABASE_URL": url,
            "ITSM_HOME": str(tmp_path_factory.mktemp("ui-home")),
            "ITSM_LOG_JSON": "false",
            "ITSM_RUN_WORKER": "false",
            # The test environment ends streams after a second (for tests/live); a page keeps
            # its stream open as in production.
            "ITSM_STREAM_MAX_SECONDS": "3600",
        },
    )
    try:
        api.wait_for("Application startup complete")
        yield Stack(url, f"http://127.0.0.1:{port}", team_id, user_ids)
    finally:
        api.stop()
        with psycopg.connect(database_server, autocommit=True) as connection:
            connection.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def chromium():
    try:
        with browser.chromium() as launched:
            yield launched
    except browser.ChromiumMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture
def page(chromium):
    """A fresh browser context (no cookies) and page at 1280 px, per test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
