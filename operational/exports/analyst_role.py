"""The read-only analyst role that migration 0006_analytics creates (NOLOGIN there).

``analyst_url`` gives it LOGIN and a password and returns a connection URL. The password is
generated once and kept in ``<ITSM_HOME>/analyst.password`` (mode 0600). The role is
cluster-wide: every database on the server shares it and the password last set.
"""

import secrets
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from operational.core.config import Settings
from operational.core.db import libpq_url, resolve_database_url

ANALYST_ROLE = "itsm_analyst"
PASSWORD_FILE = "analyst.password"


def analyst_password(home: Path) -> str:
    path = home / PASSWORD_FILE
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def analyst_url(settings: Settings) -> str:
    """Enable login for the analyst role and return a libpq URL that connects as it."""
    admin_url = libpq_url(resolve_database_url(settings))
    password = analyst_password(settings.home)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("alter role {} with login password {}").format(
                sql.Identifier(ANALYST_ROLE), sql.Literal(password)
            )
        )
    url = make_url(admin_url).set(username=ANALYST_ROLE, password=password)
    return url.render_as_string(hide_password=False)
