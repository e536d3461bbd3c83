import psycopg
import pytest
from psycopg import errors

from operational.core.config import Settings
from operational.core.db import libpq_url
from operational.core.roles import DBT
from operational.exports.analyst_role import ANALYST_ROLE, AUDITOR_ROLE, analyst_url, auditor_url


@pytest.fixture
def built_marts(fresh_database) -> str:
    """A database with tables where dbt would make them, made as dbt's role, as dbt does."""
    url = fresh_database("analyst")
    with psycopg.connect(libpq_url(url), autocommit=True) as owner:
        owner.execute("insert into operational.teams (name) values ('Service desk')")
        owner.execute(f"set role {DBT}")
        # dbt creates (and re-creates) mart tables after the migration.
        owner.execute("create table marts.mtta_demo as select 1 as incidents, 42.5 as minutes")
        # Some marts are views of an intermediate table (mttr_per_period and its siblings).
        owner.execute("create table intermediate.rolled_demo as select 7 as resolved_count")
        owner.execute("create view marts.mttr_demo as select * from intermediate.rolled_demo")
        owner.execute("create view staging.stg_demo as select 1 as one")
        # Personal data: the access review.
        owner.execute("create table personal.access_review as select 'a@example.com' as email")
    return url


def test_analyst_reads_marts_and_nothing_operational_or_personal(built_marts, tmp_path):
    settings = Settings(home=tmp_path, database_url=built_marts)

    analyst = analyst_url(settings)

    assert f"{ANALYST_ROLE}:" in analyst
    assert analyst_url(settings) == analyst  # the stored password is reused
    assert (tmp_path / "analyst.password").stat().st_mode & 0o777 == 0o600
    with psycopg.connect(analyst, autocommit=True) as connection:
        assert connection.execute("select current_user").fetchone() == (ANALYST_ROLE,)
        assert connection.execute("select incidents, minutes from marts.mtta_demo").fetchall() == [
            (1, 42.5)
        ]
        assert connection.execute("select resolved_count from marts.mttr_demo").fetchall() == [(7,)]
        for statement in (
            "select count(*) from personal.access_review",
            "select count(*) from intermediate.rolled_demo",
            "select count(*) from staging.stg_demo",
            "select count(*) from operational.teams",
            "select count(*) from operational.events",
            "create table marts.scribble (id int)",
            "delete from marts.mtta_demo",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(statement)


def test_auditor_reads_the_personal_data_too_but_nothing_operational(built_marts, tmp_path):
    auditor = auditor_url(Settings(home=tmp_path, database_url=built_marts))

    assert (tmp_path / "auditor.password").stat().st_mode & 0o777 == 0o600
    with psycopg.connect(auditor, autocommit=True) as connection:
        assert connection.execute("select current_user").fetchone() == (AUDITOR_ROLE,)
        assert connection.execute("select email from personal.access_review").fetchall() == [
            ("a@example.com",)
        ]
        assert connection.execute("select incidents from marts.mtta_demo").fetchall() == [(1,)]
        for statement in (
            "select count(*) from operational.users",
            "select count(*) from staging.stg_demo",
            "delete from personal.access_review",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(statement)
