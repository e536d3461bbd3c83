"""The dbt project and its manifest, which Dagster reads when it loads the definitions."""

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.environment import DBT_PROJECT_DIR, OFFLINE

# Files whose change makes the manifest stale.
_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "seeds", "snapshots")


def dbt_project() -> DbtProject:
    """The project, with its artifacts in ``DBT_TARGET_PATH`` (dbt's own variable; the
    ``itsm pipelines`` commands set it under ITSM_HOME) or ``dbt/target``."""
    target = Path(os.environ.get("DBT_TARGET_PATH") or DBT_PROJECT_DIR / "target")
    return DbtProject(project_dir=DBT_PROJECT_DIR, target_path=target, profiles_dir=DBT_PROJECT_DIR)


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in _SOURCES:
        path = DBT_PROJECT_DIR / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
    return newest


# The dbt installed beside this Python: the venv's bin/ is not on PATH when a tool is started as
# `.venv/bin/python -m ...` (dev.py, CI, the daemon).
DBT_EXECUTABLE = shutil.which("dbt", path=str(Path(sys.executable).parent)) or "dbt"


def ensure_manifest(project: DbtProject) -> Path:
    """``dbt parse`` when the manifest is missing or older than the project's files.

    Several processes may load the definitions at once (pytest-xdist workers, the webserver and
    the daemon): one parses under a file lock, into a scratch folder, and the finished manifest
    replaces the old one in a single rename, so no reader ever sees half a file.
    dbt parse reads no database; the profile's connection settings have defaults.
    """
    manifest = Path(project.manifest_path)
    if _is_current(manifest):
        return manifest
    target = Path(project.project_dir, project.target_path)
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_current(manifest):
            return manifest
        with tempfile.TemporaryDirectory(dir=target, prefix=".parse-") as scratch:
            subprocess.run(
                [
                    DBT_EXECUTABLE,
                    "parse",
                    "--quiet",
                    "--project-dir",
                    str(project.project_dir),
                    "--profiles-dir",
                    str(project.profiles_dir),
                    "--target-path",
                    scratch,
                ],
                cwd=project.project_dir,
                env={**os.environ, **OFFLINE, "DBT_LOG_PATH": scratch},
                check=True,
            )
            os.replace(Path(scratch, "manifest.json"), manifest)
    return manifest


def _is_current(manifest: Path) -> bool:
    return manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime()
