"""Resources: the platform's home folder and database, read from the environment."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from sqlalchemy import Engine, create_engine, pool
from sqlalchemy.orm import Session

from operational.core import roles
from operational.core.config import Settings
from operational.core.db import dbt_environment, normalize_url
from pipelines.environment import temporary_environment


class ItsmResource(dg.ConfigurableResource):
    """``ITSM_HOME`` (inbox, exports) and ``ITSM_DATABASE_URL`` (the operational database).

    Whatever role that URL names, the pipelines' own sessions connect as the runtime role and
    dbt as its own role (operational/core/roles.py)."""

    home: str
    database_url: str

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    def settings(self) -> Settings:
        return Settings(home=Path(self.home), database_url=self.database_url)

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        runtime = roles.role_url(normalize_url(self.database_url), roles.APP, home=self.home_path)
        engine = create_engine(runtime, poolclass=pool.NullPool)
        try:
            yield engine
        finally:
            engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds (pipelines own their transactions)."""
        with (
            self.engine() as engine,
            Session(engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def dbt_connection(self) -> Iterator[None]:
        """Point dbt's profile (``env_var('ITSM_DBT_*')``) at this database while a dbt
        process starts; the dbt resource hands the process its environment at launch."""
        environment = dbt_environment(normalize_url(self.database_url), settings=self.settings())
        with temporary_environment(environment):
            yield


def itsm_resource() -> ItsmResource:
    return ItsmResource(home=dg.EnvVar("ITSM_HOME"), database_url=dg.EnvVar("ITSM_DATABASE_URL"))
