"""The environment every Dagster process of the platform runs in (CLI, UI, daemon, tests).

Everything Dagster and dbt keep on disk lives under ``ITSM_HOME``: ``dagster/`` (DAGSTER_HOME,
run history, schedules' state) and ``dbt-target/`` (dbt's manifest and run artifacts). Nothing
reaches the internet: Dagster telemetry is off in ``dagster.yaml`` and by environment, and dbt
sends no usage statistics and checks no versions.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from operational.core.config import Settings
from operational.core.db import resolve_database_url

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPOSITORY_ROOT / "dbt"
WORKSPACE_FILE = REPOSITORY_ROOT / "workspace.yaml"

OFFLINE = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DBT_VERSION_CHECK": "false",
}

DAGSTER_INSTANCE_CONFIG = {
    "telemetry": {"enabled": False},
    "nux": {"enabled": False},
}


def dagster_home(home: Path) -> Path:
    return home / "dagster"


def dbt_target_dir(home: Path) -> Path:
    return home / "dbt-target"


def prepare_dagster_home(home: Path) -> Path:
    """Create DAGSTER_HOME with its ``dagster.yaml`` (telemetry off)."""
    path = dagster_home(home)
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    wanted = yaml.safe_dump(DAGSTER_INSTANCE_CONFIG, sort_keys=True)
    if not config.exists() or config.read_text() != wanted:
        config.write_text(wanted)
    return path


def pipeline_environment(settings: Settings, database_url: str | None = None) -> dict[str, str]:
    """Variables for Dagster processes: where the platform's state is, and the database.

    Resolving the database URL starts the embedded server when no ``ITSM_DATABASE_URL`` is set;
    the processes then get its socket URL, so they all reach the same server.
    """
    home = settings.home
    return {
        **OFFLINE,
        "ITSM_HOME": str(home),
        "ITSM_DATABASE_URL": database_url or resolve_database_url(settings),
        "DAGSTER_HOME": str(prepare_dagster_home(home)),
        "DBT_TARGET_PATH": str(dbt_target_dir(home)),
    }


@contextmanager
def temporary_environment(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then restore what was there: dbt reads
    its profile's ``env_var()`` from the environment of the process it starts in."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
