"""The CLI on a fresh home: a command that needs the schema migrates a new database first, or
says in one line what to run; never a traceback."""

import os

import psycopg
import pytest
from sqlalchemy import create_engine, pool, text
from typer.testing import CliRunner

from operational.cli import app
from tests.conftest import _recreate_database, _sqlalchemy_url, _worker

runner = CliRunner()


def _point_at(url: str) -> None:
    from operational.core.config import get_settings
    from operational.core.db import _session_factory, get_engine

    get_engine().dispose()
    os.environ["ITSM_DATABASE_URL"] = url
    for cached in (get_settings, get_engine, _session_factory):
        cached.cache_clear()


@pytest.fixture
def empty_database(database_server, database_url):
    """A new database with no schema at all, as on a fresh ITSM_HOME; the application points at
    it during the test."""
    name = f"itsm_empty_{_worker()}"
    _recreate_database(database_server, name)
    url = _sqlalchemy_url(database_server, name)
    _point_at(url)
    try:
        yield url
    finally:
        _point_at(database_url)
        with psycopg.connect(database_server, autocommit=True) as connection:
            connection.execute(f'drop database if exists "{name}" with (force)')


def test_itsm_ingest_on_a_new_database_migrates_first(empty_database, fixtures, tmp_path):
    result = runner.invoke(
        app,
        [
            "ingest",
            "servicenow-audit",
            str(fixtures / "formats" / "servicenow_audit_dd-MM-yyyy.csv"),
            "--rejects-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "migrating to" in result.output
    assert "Traceback" not in result.output
    engine = create_engine(empty_database, poolclass=pool.NullPool)
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from operational.incidents")).scalar() == 2
        runs = connection.execute(text("select status from operational.import_runs")).scalars()
        assert list(runs) == ["succeeded"]
    engine.dispose()


def test_itsm_user_list_on_a_new_database_migrates_first(empty_database):
    result = runner.invoke(app, ["user", "list"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_an_unreachable_database_is_one_line_saying_what_to_run(database_url, fixtures):
    _point_at("postgresql+psycopg://nobody:nothing@127.0.0.1:1/none")
    try:
        result = runner.invoke(
            app, ["ingest", "servicenow-audit", str(fixtures / "servicenow_audit.csv")]
        )
    finally:
        _point_at(database_url)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "database unreachable" in lines[0] and "itsm db start" in lines[0]
