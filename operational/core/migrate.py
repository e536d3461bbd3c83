"""Alembic, driven from code (``itsm db migrate``, tests), between the set-up of the database roles
(operational/core/roles.py) and the grants on the tables it made."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolation: escape percent signs in encoded URLs.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Set up the roles, migrate as the schema owner, then grant. ``url`` is an administrative
    connection (default: the platform's). Raises ``roles.MissingPrivileges`` when it may not set
    up the roles, naming what a database administrator must run."""
    from operational.core import roles
    from operational.core.config import get_settings
    from operational.core.db import admin_database_url

    url = url or admin_database_url()
    roles.prepare(url, home=get_settings().home)
    command.upgrade(alembic_config(url), revision)
    roles.grant(url)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    from operational.core.db import SCHEMA

    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table_schema": SCHEMA})
        return context.get_current_revision()
