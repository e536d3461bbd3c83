"""The way into the marts: the connection as the read-only analyst role, and a cached read; and,
for the access review only, the auditor role's connection to schema ``personal``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import DatabaseError, OperationalError
from streamlit.connections import SQLConnection

from operational.core.config import get_settings
from operational.core.db import normalize_url

CONNECTION_NAME = "marts"
PERSONAL_CONNECTION_NAME = "personal"
SCHEMA = "marts"


class MartsUnavailable(Exception):
    """The marts cannot be read: not configured, not built, or the database does not answer."""


def _connection(name: str, url: str | None, variable: str, role: str) -> SQLConnection:
    if not url:
        raise MartsUnavailable(
            f"No {name} connection is configured: start the dashboards with `itsm dashboards`, "
            f"which sets {variable} to the read-only {role} role."
        )
    return st.connection(name, type="sql", url=normalize_url(url), pool_pre_ping=True)


def connection() -> SQLConnection:
    """The analyst role: schema marts, no personal data."""
    url = get_settings().marts_url
    return _connection(CONNECTION_NAME, url, "ITSM_MARTS_URL", "analyst")


def personal_connection() -> SQLConnection:
    """The auditor role: schema personal too. Only for pages shown to auditors and admins."""
    url = get_settings().personal_marts_url
    return _connection(PERSONAL_CONNECTION_NAME, url, "ITSM_PERSONAL_MARTS_URL", "auditor")


def read(sql: str, **params: Any) -> pd.DataFrame:
    """One cached query (TTL from Settings.dashboards_cache_seconds), as the analyst role."""
    return _read(connection, sql, params)


def read_personal(sql: str, **params: Any) -> pd.DataFrame:
    """The same, as the auditor role (schema personal)."""
    return _read(personal_connection, sql, params)


def _read(
    make_connection: Callable[[], SQLConnection], sql: str, params: dict[str, Any]
) -> pd.DataFrame:
    try:
        return make_connection().query(
            sql,
            params=params,
            ttl=get_settings().dashboards_cache_seconds,
            show_spinner=False,
        )
    except (DatabaseError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
        original = getattr(cause, "orig", cause)
        if isinstance(cause, OperationalError):
            raise MartsUnavailable(
                f"The marts database does not answer ({_first_line(original)})."
            ) from exc
        raise MartsUnavailable(
            "A mart this page reads is missing, or the marts role may not read it; rebuild the "
            f"marts with `itsm pipelines run`. ({_first_line(original)})"
        ) from exc


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
