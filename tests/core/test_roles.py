"""The database roles (operational/core/roles.py): each grant boundary, tried as the role itself
on a migrated database, and what ``itsm db migrate`` says when it may not create the roles."""

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from operational.core import roles
from operational.core.config import get_settings
from operational.core.db import libpq_url, normalize_url
from operational.core.migrate import upgrade
from operational.events import service as events
from operational.events.enums import EntityType, EventKind


def connect(url: str, role: str) -> psycopg.Connection:
    """An autocommit connection to the database of ``url``, logged in as ``role``."""
    return psycopg.connect(
        libpq_url(roles.role_url(url, role, home=get_settings().home)), autocommit=True
    )


def refused(connection: psycopg.Connection, statement: str) -> str:
    """The message of the privilege error ``statement`` meets."""
    with pytest.raises(errors.InsufficientPrivilege) as refusal:
        connection.execute(statement)
    return str(refusal.value)


@pytest.fixture
def database(fresh_database) -> str:
    url = fresh_database("roles")
    with psycopg.connect(libpq_url(url), autocommit=True) as owner:
        owner.execute("insert into operational.teams (name) values ('Service desk')")
    return url


def test_the_runtime_role_reads_and_appends_to_the_event_log_but_never_rewrites_it(database):
    engine = create_engine(
        normalize_url(roles.role_url(database, roles.APP, home=get_settings().home)),
        poolclass=pool.NullPool,
    )
    with Session(engine) as session, session.begin():
        events.append(
            session=session,
            entity_type=EntityType.team,
            entity_id=1,
            kind=EventKind.created,
            actor=None,
            new_value="Service desk",
        )
    engine.dispose()

    with connect(database, roles.APP) as app:
        assert app.execute("select count(*) from operational.events").fetchone() == (1,)
        # Refused by the missing grant itself, before the append-only trigger is reached.
        for statement in (
            "update operational.events set new_value = 'changed'",
            "delete from operational.events",
            "truncate operational.events",
        ):
            assert "permission denied for table events" in refused(app, statement)


def test_the_runtime_role_writes_the_records_but_cannot_change_the_schema(database):
    with connect(database, roles.APP) as app:
        app.execute("update operational.teams set description = 'first line'")
        app.execute("insert into operational.teams (name) values ('Network')")
        app.execute("delete from operational.teams where name = 'Network'")
        for statement in (
            "create table operational.scribble (id int)",
            "create table public.scribble (id int)",
            "create schema scribble",
            "alter table operational.teams add column scribble int",
            "drop table operational.teams",
            "truncate operational.teams",
            "select * from operational.alembic_version",
            "create table marts.scribble (id int)",
        ):
            refused(app, statement)


def test_dbt_reads_the_operational_schema_but_not_its_secrets_and_never_writes_it(database):
    with connect(database, roles.DBT) as dbt:
        assert dbt.execute("select count(*) from operational.teams").fetchone() == (1,)
        assert dbt.execute(
            "select count(id), count(email), count(password_hash) from operational.users"
        ).fetchone() == (0, 0, 0)
        for statement in (
            "select mfa_secret from operational.users",
            "select * from operational.refresh_tokens",
            "select * from operational.mfa_recovery_codes",
            "insert into operational.teams (name) values ('Network')",
            "update operational.teams set description = 'x'",
            "delete from operational.teams",
            "create table operational.scribble (id int)",
        ):
            refused(dbt, statement)
        # dbt owns its own layers.
        for layer in roles.DBT_SCHEMAS:
            dbt.execute(f"create table {layer}.built (id int)")
            dbt.execute(f"drop table {layer}.built")


def test_migrations_make_everything_the_owners_who_never_logs_in(database):
    with psycopg.connect(libpq_url(database)) as admin:
        owners = admin.execute(
            "select distinct pg_get_userbyid(relowner) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'operational'"
        ).fetchall()
        schemas = dict(
            admin.execute(
                "select nspname, pg_get_userbyid(nspowner) from pg_namespace "
                "where nspname in ('operational', 'staging', 'intermediate', 'marts', 'personal')"
            ).fetchall()
        )
        can_log_in = admin.execute(
            "select rolcanlogin from pg_roles where rolname = %s", (roles.OWNER,)
        ).fetchone()
    assert owners == [(roles.OWNER,)]
    assert schemas == {"operational": roles.OWNER} | dict.fromkeys(roles.DBT_SCHEMAS, roles.DBT)
    assert can_log_in == (False,)


def test_migrating_hands_over_what_an_earlier_install_made_as_the_superuser(database):
    with psycopg.connect(libpq_url(database), autocommit=True) as admin:
        admin.execute("alter table operational.incidents owner to current_user")
        admin.execute("create table marts.made_before (id int)")

    upgrade(database)

    with psycopg.connect(libpq_url(database)) as admin:
        found = admin.execute(
            "select relname, pg_get_userbyid(relowner) from pg_class "
            "where oid in ('operational.incidents'::regclass, 'marts.made_before'::regclass) "
            "order by relname"
        ).fetchall()
    assert found == [("incidents", roles.OWNER), ("made_before", roles.DBT)]


@pytest.fixture
def configured_database(monkeypatch) -> Iterator[None]:
    """Lets a test point ITSM_DATABASE_URL elsewhere; the settings are rebuilt afterwards."""
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def limited_admin(database_server: str) -> Iterator[str]:
    """A role that owns a new, empty database but may not create roles (a managed database's
    usual administrative account). Yields its SQLAlchemy URL."""
    name = f"itsm_limited_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with psycopg.connect(database_server, autocommit=True) as superuser:
        superuser.execute(f'drop database if exists "{name}" with (force)')
        superuser.execute(f'drop role if exists "{name}"')
        superuser.execute(f'create role "{name}" login')
        superuser.execute(f'create database "{name}" owner "{name}"')
    url = make_url(normalize_url(database_server)).set(username=name, password=None, database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(database_server, autocommit=True) as superuser:
            superuser.execute(f'drop database if exists "{name}" with (force)')
            superuser.execute(f'drop owned by "{name}"')
            superuser.execute(f'drop role if exists "{name}"')


def test_migrate_names_the_grants_a_database_administrator_must_give(
    limited_admin, database_server, monkeypatch, configured_database
):
    name = make_url(limited_admin).username
    grant = f'grant "{roles.OWNER}" to "{name}"'

    with pytest.raises(roles.MissingPrivileges) as missing:
        upgrade(limited_admin)

    assert grant in missing.value.statements
    monkeypatch.setenv("ITSM_DATABASE_URL", limited_admin)
    get_settings.cache_clear()
    from operational.cli import app as cli

    said = CliRunner().invoke(cli, ["db", "migrate"])
    assert said.exit_code == 1
    assert grant in said.output and "itsm db migrate" in said.output

    # Once a database administrator has run it, the limited role migrates on its own.
    with psycopg.connect(database_server, autocommit=True) as superuser:
        superuser.execute(grant)
    done = CliRunner().invoke(cli, ["db", "migrate"])
    assert done.exit_code == 0, done.output
    with connect(limited_admin, roles.APP) as app:
        assert app.execute("select count(*) from operational.incidents").fetchone() == (0,)
