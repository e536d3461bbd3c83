import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
MAPPINGS = Path(__file__).resolve().parents[2] / "docs" / "mappings"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def mappings() -> Path:
    return MAPPINGS


@pytest.fixture
def committed_database(fresh_database) -> Iterator[str]:
    """A real, committed database that the code's own engine (CLI, inbox) uses; dropped after.

    Same as tests/auth's ``cli_database``, which could move to the root conftest.
    """
    from operational.core.config import get_settings
    from operational.core.db import _session_factory, get_engine

    url = fresh_database("ingest")
    previous = os.environ.get("ITSM_DATABASE_URL")
    os.environ["ITSM_DATABASE_URL"] = url
    for cached in (get_settings, get_engine, _session_factory):
        cached.cache_clear()
    try:
        yield url
    finally:
        get_engine().dispose()
        if previous is None:
            os.environ.pop("ITSM_DATABASE_URL", None)
        else:
            os.environ["ITSM_DATABASE_URL"] = previous
        for cached in (get_settings, get_engine, _session_factory):
            cached.cache_clear()


@pytest.fixture
def committed_engine(committed_database):
    engine = create_engine(committed_database, poolclass=pool.NullPool)
    yield engine
    engine.dispose()
