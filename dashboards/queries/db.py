"""The one way into the marts: the connection as the read-only analyst role, and a cached read."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import DatabaseError, OperationalError
from streamlit.connections import SQLConnection

from operational.core.config import get_settings
from operational.core.db import normalize_url

CONNECTION_NAME = "marts"
SCHEMA = "marts"


class MartsUnavailable(Exception):
    """The marts cannot be read: not configured, not built, or the database does not answer."""


def connection() -> SQLConnection:
    settings = get_settings()
    if not settings.marts_url:
        raise MartsUnavailable(
            "No marts connection is configured: start the dashboards with `itsm dashboards`, "
            "which sets ITSM_MARTS_URL to the read-only analyst role."
        )
    return st.connection(
        CONNECTION_NAME,
        type="sql",
        url=normalize_url(settings.marts_url),
        pool_pre_ping=True,
    )


def read(sql: str, **params: Any) -> pd.DataFrame:
    """One cached query (TTL from Settings.dashboards_cache_seconds)."""
    try:
        return connection().query(
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
