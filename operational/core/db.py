"""Engine, sessions and the declarative base shared by every domain."""

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Annotated, Any

import anyio
from fastapi import Depends
from sqlalchemy import MetaData, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from operational.core import embedded
from operational.core.config import Settings, get_settings

SCHEMA = "operational"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING_CONVENTION)


def sql_values(enum: type[Enum]) -> str:
    """An enum's values as a SQL list, for check constraints: ``state in ({sql_values(State)})``."""
    return ", ".join(f"'{member.value}'" for member in enum)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {value!r} as JSON")


_DIALECT = postgresql.dialect()


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    suffix: str = "",
    returning: tuple[str, ...] = (),
) -> list[Any]:
    """INSERT many rows (dicts with the same keys) as one statement over one JSON document
    (``jsonb_to_recordset``): a short statement and a single parameter whatever the row count,
    so bulk writes take one round trip. ``suffix`` may add an ON CONFLICT clause."""
    columns = list(rows[0])
    definitions = ", ".join(
        f"{name} {table.c[name].type.compile(dialect=_DIALECT)}" for name in columns
    )
    names = ", ".join(columns)
    statement = (
        f"insert into {table.schema}.{table.name} ({names}) select {names} "
        f"from jsonb_to_recordset(cast(:rows as jsonb)) as r({definitions}) {suffix}"
    )
    if returning:
        statement += f" returning {', '.join(returning)}"
    result = session.execute(text(statement), {"rows": json.dumps(rows, default=_json_value)})
    return list(result) if returning else []


def normalize_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` URLs and use the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def admin_database_url(settings: Settings | None = None) -> str:
    """The administrative connection: ``ITSM_DATABASE_URL`` when set, otherwise the embedded
    server's superuser (started on demand). Only migrations and role set-up use it."""
    settings = settings or get_settings()
    if settings.database_url:
        return normalize_url(settings.database_url)
    server = embedded.start(settings.home, settings.database_name)
    return server.url(settings.database_name)


def resolve_database_url(settings: Settings | None = None) -> str:
    """The runtime role's connection (``itsm_app``): the API, the worker, ingest, the pipelines
    and the CLI's own work all use it (operational/core/roles.py)."""
    from operational.core import roles

    settings = settings or get_settings()
    return roles.role_url(admin_database_url(settings), roles.APP, home=settings.home)


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL without the SQLAlchemy driver suffix, for psycopg, psql and dbt."""
    parsed = make_url(sqlalchemy_url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


@lru_cache
def get_engine() -> Engine:
    """The API's engine: one pool per process, sized by ``db_pool_size`` + ``db_max_overflow``
    (``operational.core.limits.ConcurrencyLimit`` lets no more requests run at once)."""
    settings = get_settings()
    return create_engine(
        resolve_database_url(settings),
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )


def create_worker_engine(url: str | None = None) -> Engine:
    """A small engine of its own for background work (the SLA worker thread of ``itsm serve``),
    so that however busy the API's pool is, the worker still gets a connection."""
    return create_engine(
        url or resolve_database_url(), pool_pre_ping=True, pool_size=1, max_overflow=1
    )


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(make_session: Callable[[], Session] | None = None) -> Iterator[Session]:
    """A session for background work and pipelines: commits on success, rolls back on error.
    ``make_session`` defaults to the application's own session factory."""
    session = (make_session or _session_factory())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_USED_DATABASE = "used_database"  # a connection in a transaction: its end talks to PostgreSQL
_READ_ONLY = "read_only"  # the connection is in autocommit, for reads only
_AUTOCOMMIT = "AUTOCOMMIT"


@event.listens_for(Session, "after_begin")
def _note_database_work(session: Session, _transaction: Any, connection: Connection) -> None:
    if connection.get_execution_options().get("isolation_level") == _AUTOCOMMIT:
        session.info[_READ_ONLY] = True
    else:
        session.info[_USED_DATABASE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_read_only(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the connection went back to the pool
        session.info.pop(_READ_ONLY, None)


@event.listens_for(Session, "before_flush")
def _refuse_writes_without_transaction(session: Session, *_: Any) -> None:
    ensure_writable(session)


def ensure_writable(session: Session) -> None:
    """Refuse a write on a session that reads in autocommit: what a flush checks, for writes
    that do not go through one (an INSERT statement of the caller's)."""
    if session.info.get(_READ_ONLY):
        raise RuntimeError("this session reads in autocommit (read_connection): it cannot write")


def read_connection(session: Session) -> Connection:
    """The session's connection, for a read-only request's statements.

    A request that has not used the database yet gets it in autocommit: its reads take no BEGIN
    and COMMIT round trips, and its end no trip to the thread pool (get_db). Such a session then
    cannot write (flushing raises). Once the request has a transaction (it wrote, or the tests'
    savepoints), its reads run in it."""
    if session.info.get(_USED_DATABASE) or session.info.get(_READ_ONLY):
        return session.connection()  # the one it has (asking again for autocommit warns)
    return session.connection(execution_options={"isolation_level": _AUTOCOMMIT})


def _needs_database(session: Session) -> bool:
    """Whether ending the session's work talks to the database (a connection is in use, or
    changes wait to be flushed)."""
    return bool(session.info.get(_USED_DATABASE) or session.new or session.dirty or session.deleted)


async def get_db() -> AsyncIterator[Session]:
    """One session per request, committed at the request boundary.

    A coroutine, so that a request costs no trip to the thread pool for its session: making
    one does no I/O, and the commit goes to the thread pool only when the request used the
    database in a transaction. One that did not (a refused request, a signed-in user from the
    auth cache, reads in autocommit) has nothing to commit: closing it ends it."""
    session = _session_factory()()
    try:
        yield session
        if _needs_database(session):
            await run_in_threadpool(session.commit)
            session.info.pop(_USED_DATABASE, None)
    finally:
        if _needs_database(session):
            # Rolls back what an error left; shielded, so that a client that went away
            # cannot leave the connection in a transaction.
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.close)
        else:
            session.close()


# scope="function": the commit happens before the response is sent, so a client that got its
# 201 reads what it wrote on its next request, and a failing commit is the response's error.
# (FastAPI's default scope ends a yield dependency after the response has gone out.)
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def dbt_environment(
    sqlalchemy_url: str | None = None, *, settings: Settings | None = None
) -> dict[str, str]:
    """Connection settings for dbt's ``profiles.yml`` (which reads them with ``env_var()``): the
    database of ``sqlalchemy_url`` (default: the platform's), as dbt's own role ``itsm_dbt``.

    With the embedded server, ``host`` is its Unix socket directory: libpq accepts a path there.
    """
    from operational.core import roles

    settings = settings or get_settings()
    base = sqlalchemy_url or admin_database_url(settings)
    url = make_url(roles.role_url(base, roles.DBT, home=settings.home))
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    port = url.port or url.query.get("port") or 5432
    if isinstance(port, tuple):
        port = port[0]
    return {
        "ITSM_DBT_HOST": str(host),
        "ITSM_DBT_PORT": str(port),
        "ITSM_DBT_USER": url.username or "postgres",
        "ITSM_DBT_PASSWORD": url.password or "",
        "ITSM_DBT_DBNAME": url.database or "postgres",
    }
