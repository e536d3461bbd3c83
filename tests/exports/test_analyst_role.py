import psycopg
import pytest
from psycopg import errors

from operational.core.config import Settings
from operational.core.db import libpq_url
from operational.exports.analyst_role import ANALYST_ROLE, analyst_url


def test_analyst_reads_marts_and_nothing_operational(fresh_database, tmp_path):
    url = fresh_database("analyst")
    settings = Settings(home=tmp_path, database_url=url)
    with psycopg.connect(libpq_url(url), autocommit=True) as owner:
        # As dbt does: the owner creates (and re-creates) mart tables after the migration.
        owner.execute("create table marts.mtta_demo as select 1 as incidents, 42.5 as minutes")
        # Some marts are views of an intermediate table (mttr_per_period and its siblings).
        owner.execute("create schema if not exists intermediate")
        owner.execute("create table intermediate.rolled_demo as select 7 as resolved_count")
        owner.execute("create view marts.mttr_demo as select * from intermediate.rolled_demo")
        owner.execute("insert into operational.teams (name) values ('Service desk')")

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
            "select count(*) from intermediate.rolled_demo",
            "select count(*) from operational.teams",
            "select count(*) from operational.events",
            "create table marts.scribble (id int)",
            "delete from marts.mtta_demo",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                connection.execute(statement)
