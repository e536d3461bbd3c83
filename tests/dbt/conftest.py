"""dbt against a real database: a migrated database per module, dbt run in-process.

Each module gets its own database (cloned from the run's migrated template) and its own dbt
target and log folders, so parallel workers never share dbt state.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult
from psycopg.rows import dict_row

from operational.core.db import dbt_environment, libpq_url
from pipelines.environment import DBT_PROJECT_DIR, OFFLINE, temporary_environment
from tests.conftest import _recreate_database, _sqlalchemy_url, _worker
from tests.dbt.history import History


@dataclass
class DbtDatabase:
    """A database and the dbt project pointed at it."""

    url: str
    work: Path

    def dbt(
        self, *arguments: str, variables: dict[str, Any] | None = None, check: bool = True
    ) -> dbtRunnerResult:
        """Invoke dbt; unless `check` is off, fail the test with dbt's own messages if anything
        failed."""
        command = [
            *arguments,
            "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(self.work / "target"),
            "--log-path", str(self.work / "logs"),
        ]  # fmt: skip
        if variables:
            command += ["--vars", json.dumps(variables)]
        with temporary_environment({**dbt_environment(self.url), **OFFLINE}):
            result = dbtRunner().invoke(command)
        if check and not result.success:
            problems = [
                f"{item.node.unique_id}: {item.status} {item.message}"
                for item in getattr(result.result, "results", None) or []
                if str(item.status) in ("error", "fail")
            ]
            pytest.fail(f"dbt {' '.join(arguments)} failed: {problems or result.exception}")
        return result

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(libpq_url(self.url), row_factory=dict_row) as connection:
            return connection.execute(sql, params).fetchall()

    def execute(self, sql: str, *params: Any) -> None:
        with psycopg.connect(libpq_url(self.url), autocommit=True) as connection:
            connection.execute(sql, params)


@pytest.fixture(scope="module")
def dbt_database(
    request: pytest.FixtureRequest,
    database_server: str,
    template_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DbtDatabase]:
    module = request.module.__name__.rsplit(".", 1)[-1]
    name = f"itsm_{module}_{_worker()}"
    _recreate_database(database_server, name, template=template_database)
    yield DbtDatabase(
        url=_sqlalchemy_url(database_server, name), work=tmp_path_factory.mktemp("dbt")
    )
    with psycopg.connect(database_server, autocommit=True) as connection:
        connection.execute(f'drop database if exists "{name}" with (force)')


# A fixed "today" for the backlog of the hand-made history (tests/dbt/history.py).
AS_OF = {"as_of_date": "2026-03-12"}


@pytest.fixture(scope="module")
def phase_one_built(dbt_database: DbtDatabase) -> DbtDatabase:
    """The hand-made history's phase one, built by the pipelines' dbt build."""
    history = History(dbt_database.url)
    try:
        history.phase_one()
    finally:
        history.dispose()
    dbt_database.dbt("build", "--exclude-resource-type", "unit_test", variables=AS_OF)
    return dbt_database
