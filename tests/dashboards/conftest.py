"""The dashboards' real stack, built once per test session (per xdist worker):

- a migrated database holding the hand-made history of tests/dbt/history.py (both phases), plus
  one account per role the sign-in tests need (the auditor with MFA);
- the marts, built from it by the real dbt project (dbtRunner, tests/dbt/conftest.py);
- one compliance export, written by the real export service;
- the API, served by uvicorn on loopback, which the dashboards sign people in against;
- ITSM_MARTS_URL set to the read-only analyst role, and ITSM_PERSONAL_MARTS_URL to the
  read-only auditor role, as ``itsm dashboards`` does.

The history's figures are computed by hand in tests/dbt/test_marts.py; the dashboard tests check
that the pages show those same figures.
"""

import gc
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pyotp
import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

from operational.core import encryption
from operational.core.config import Settings, get_settings
from operational.exports.analyst_role import analyst_url, auditor_url
from tests.conftest import _recreate_database, _sqlalchemy_url, _worker
from tests.dbt.conftest import DbtDatabase
from tests.dbt.history import History
from tests.dbt.request_history import RequestHistory
from tests.factories import DEFAULT_PASSWORD, Factory
from tests.spreadsheets import FORMULA

REPOSITORY = Path(__file__).resolve().parents[2]
APP = REPOSITORY / "dashboards" / "streamlit_app.py"
# The history's backlog is taken as of this day (as tests/dbt does).
DBT_VARIABLES = {"as_of_date": "2026-03-12"}
# The history lives in March 2026; tests look at it by month.
MARCH = {"from": "2026-03-01", "to": "2026-03-31", "grain": "month"}
STARTUP_SECONDS = 90


@dataclass(frozen=True)
class Account:
    email: str
    password: str = DEFAULT_PASSWORD
    totp_secret: str | None = None

    def totp(self) -> str:
        assert self.totp_secret
        return pyotp.TOTP(self.totp_secret).now()


ACCOUNTS = {
    "manager": Account("manager@dashboards.test"),
    "auditor": Account("auditor@dashboards.test", totp_secret=pyotp.random_base32()),
    "admin": Account("admin@dashboards.test"),
    "agent": Account("agent@dashboards.test"),
    "analyst": Account("analyst@dashboards.test"),
    "requester": Account("requester@dashboards.test"),
}


@dataclass
class Stack:
    url: str
    marts_url: str
    personal_marts_url: str
    api_base_url: str
    home: Path
    database: DbtDatabase
    export_id: int

    def rows(self, sql: str, *params):
        return self.database.rows(sql, *params)

    def execute(self, sql: str, *params) -> None:
        self.database.execute(sql, *params)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A child process whose output is drained by a thread; ``wait_for`` blocks until a line
    containing the text appears (or the process ends, or the deadline passes)."""

    def __init__(self, command: list[str], *, env: dict[str, str], cwd: Path = REPOSITORY):
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, *, seconds: float = STARTUP_SECONDS) -> None:
        while True:
            try:
                line = self.lines.get(timeout=seconds)
            except queue.Empty:
                self.stop()
                pytest.fail(f"no {text!r} within {seconds} s:\n{''.join(self.output)}")
            if line is None:
                pytest.fail(f"the server exited before {text!r}:\n{''.join(self.output)}")
            if text in line:
                return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _accounts(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        factory = Factory(session)
        for role, account in ACCOUNTS.items():
            factory.user(
                roles=(role,),
                email=account.email,
                display_name=f"Dashboard {role}",
                mfa_secret=account.totp_secret and encryption.encrypt(account.totp_secret),
                mfa_enabled=account.totp_secret is not None,
            )
        session.commit()
    engine.dispose()


# User-written text that starts spreadsheet formulas, planted where the compliance export and the
# dashboards' downloads carry it: the title of the breached incident INC-C (the breach register)
# and the requester account's display name (the access review). tests/dashboards/test_plain_text.py
# proves each download holds them as text.
PLANTED_TITLE = FORMULA
PLANTED_NAME = "@SUM(1+1)*cmd|' /C calc'!A0"


def _plant_formulas(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        connection.execute(
            text("update operational.incidents set title = :title where number = 'INC-C'"),
            {"title": PLANTED_TITLE},
        )
        connection.execute(
            text("update operational.users set display_name = :name where email = :email"),
            {"name": PLANTED_NAME, "email": ACCOUNTS["requester"].email},
        )
    engine.dispose()


def _export(url: str, home: Path) -> int:
    from operational.exports import service as exports

    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        export = exports.create_export(
            session=session,
            period_start=date(2026, 3, 1),
            period_end=date(2026, 3, 31),
            directory=exports.exports_dir(Settings(home=home, database_url=url)),
            generated_by="tests/dashboards",
            now=datetime(2026, 4, 1, 2, 0, tzinfo=UTC),
        )
        session.commit()
        export_id = export.id
    engine.dispose()
    return export_id


@pytest.fixture(scope="session")
def stack(
    database_server: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    name = f"itsm_dashboards_{_worker()}"
    _recreate_database(database_server, name, template=template_database)
    url = _sqlalchemy_url(database_server, name)
    home = tmp_path_factory.mktemp("dashboards-home")
    database = DbtDatabase(url=url, work=tmp_path_factory.mktemp("dashboards-dbt"))

    for history in (History(url), RequestHistory(url)):
        try:
            history.phase_one()
            history.phase_two()
        finally:
            history.dispose()
    _accounts(url)
    _plant_formulas(url)
    database.dbt("build", variables=DBT_VARIABLES)
    export_id = _export(url, home)
    marts_url = analyst_url(Settings(home=home, database_url=url))
    personal_marts_url = auditor_url(Settings(home=home, database_url=url))

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
        ],
        env={
            **os.environ,
            "ITSM_ENVIRONMENT": "test",
            "ITSM_DATABASE_URL": url,
            "ITSM_HOME": str(home),
            "ITSM_LOG_JSON": "false",
            "ITSM_RUN_WORKER": "false",
        },
    )
    try:
        api.wait_for("Application startup complete")
        yield Stack(
            url=url,
            marts_url=marts_url,
            personal_marts_url=personal_marts_url,
            api_base_url=f"http://127.0.0.1:{port}",
            home=home,
            database=database,
            export_id=export_id,
        )
    finally:
        api.stop()
        with psycopg.connect(database_server, autocommit=True) as connection:
            connection.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def dashboard_settings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The environment ``itsm dashboards`` gives Streamlit, for AppTest (which runs in-process)."""
    monkeypatch.setenv("ITSM_MARTS_URL", stack.marts_url)
    monkeypatch.setenv("ITSM_PERSONAL_MARTS_URL", stack.personal_marts_url)
    monkeypatch.setenv("ITSM_API_BASE_URL", stack.api_base_url)
    monkeypatch.setenv("ITSM_DASHBOARDS_CACHE_SECONDS", "0")
    # As dashboards/.streamlit/config.toml says (AppTest does not read that file).
    from streamlit import config as streamlit_config

    streamlit_config.set_option("runner.magicEnabled", False)
    get_settings.cache_clear()
    yield stack
    # AppTest runs in this process: close the marts connections and forget cached results before
    # the database is dropped. Streamlit's SQLConnection.query leaves each connection to the
    # garbage collector; collect them now, while the database still answers their rollback.
    import streamlit as st

    from dashboards import queries

    gc.collect()
    queries.connection().engine.dispose()
    queries.personal_connection().engine.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()
    get_settings.cache_clear()
