"""Migration 0027_automation_records lets rules name problems and requests, and its downgrade
removes such rules (the older schema cannot hold them) and keeps the others."""

import pytest
from alembic import command
from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import IntegrityError

from operational.core.migrate import alembic_config, upgrade

INSERT = text(
    "insert into operational.automation_rules (name, record_type, trigger, actions)"
    " values (:name, :record_type, 'created', '[{\"type\": \"stop\"}]')"
)


def _names(engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text("select name, record_type from operational.automation_rules order by name")
            )
        ]


def test_problem_and_request_rules_both_ways(fresh_database):
    url = fresh_database("automation_records")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        for name, record_type in (("a", "incident"), ("b", "problem"), ("c", "request")):
            connection.execute(INSERT, {"name": name, "record_type": record_type})

    command.downgrade(alembic_config(url), "0026_custom_fields_more")
    assert _names(engine) == [("a", "incident")]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(INSERT, {"name": "d", "record_type": "problem"})

    upgrade(url)
    with engine.begin() as connection:
        connection.execute(INSERT, {"name": "d", "record_type": "problem"})
    assert _names(engine) == [("a", "incident"), ("d", "problem")]
    engine.dispose()
