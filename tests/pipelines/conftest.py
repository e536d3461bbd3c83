"""Dagster's definitions and a private environment for each test.

The definitions are imported once per worker, with dbt's manifest in the worker's own target
folder. Each test that runs the pipelines gets its own database, ITSM_HOME and DAGSTER_HOME.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from operational.core.config import Settings, get_settings
from pipelines.environment import pipeline_environment


@pytest.fixture(scope="session")
def defs(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(tmp_path_factory.mktemp("dbt-target")))
        patch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")
        from pipelines.definitions import defs

        yield defs


@pytest.fixture
def pipeline_home(
    fresh_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, defs
) -> Iterator[tuple[Path, str]]:
    """A migrated database and an ITSM_HOME, set in the environment as `itsm pipelines` does."""
    url = fresh_database("pipelines")
    home = tmp_path / "home"
    environment = pipeline_environment(Settings(home=home, database_url=url), database_url=url)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield home, url
    get_settings.cache_clear()
