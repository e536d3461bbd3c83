"""The benchmarks' scratch databases, on the server the platform is configured for."""

import psycopg
from sqlalchemy.engine import make_url

from operational.core.config import get_settings
from operational.core.db import admin_database_url, libpq_url


def scratch_database(name: str, *, reuse: bool = False) -> str:
    """Drop and create ``name`` on the server of ITSM_DATABASE_URL, or the embedded one (or
    keep it when it exists, with ``reuse``); return its SQLAlchemy URL."""
    server_url = make_url(admin_database_url(get_settings()))
    admin = libpq_url(server_url.set(database="postgres").render_as_string(False))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("select 1 from pg_database where datname = %s", (name,))
        if not (reuse and exists.fetchone()):
            connection.execute(f'drop database if exists "{name}" with (force)')
            connection.execute(f'create database "{name}"')
    return server_url.set(database=name).render_as_string(hide_password=False)
