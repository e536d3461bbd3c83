"""The staging layer's meta.enforced_by claims hold in the migrated operational schema.

Staging columns whose key, NOT NULL or allowed values PostgreSQL enforces name that constraint
instead of restating it as a dbt data test (see dbt/models/staging/_operational__models.yml).
This proves every named constraint exists, on the table the staging view reads, so that dropping
one in a migration fails here rather than silently leaving the column unchecked.
"""

import re

import psycopg
import pytest
import yaml
from sqlalchemy import Engine

from operational.core.db import libpq_url
from pipelines.environment import DBT_PROJECT_DIR

STAGING = DBT_PROJECT_DIR / "models" / "staging"
NOT_NULL = "not null: "


def enforced_claims() -> list[tuple[str, str, str]]:
    """(staging model, column or '(model)', claim) for every meta.enforced_by."""
    models = yaml.safe_load((STAGING / "_operational__models.yml").read_text())["models"]
    claims = []
    for model in models:
        if "enforced_by" in model.get("meta", {}):
            claims.append((model["name"], "(model)", model["meta"]["enforced_by"]))
        for column in model.get("columns", []):
            if "enforced_by" in column.get("meta", {}):
                claims.append((model["name"], column["name"], column["meta"]["enforced_by"]))
    return claims


def source_table(model: str) -> str:
    sql = (STAGING / f"{model}.sql").read_text()
    tables = re.findall(r"source\('operational', '(\w+)'\)", sql)
    assert len(tables) == 1, f"{model} should read exactly one operational table"
    return tables[0]


def test_claims_cover_the_keys_that_lost_their_tests() -> None:
    claimed = {(model, column) for model, column, _ in enforced_claims()}
    assert ("stg_operational__events", "event_id") in claimed
    assert ("stg_operational__sla_timers", "(model)") in claimed
    assert len(claimed) >= 25


@pytest.mark.parametrize(("model", "column", "claim"), enforced_claims())
def test_enforced_by_names_a_constraint_of_the_source_table(
    engine: Engine, model: str, column: str, claim: str
) -> None:
    table = source_table(model)
    with psycopg.connect(libpq_url(engine.url.render_as_string(False))) as connection:
        if claim.startswith(NOT_NULL):
            nullable = connection.execute(
                "select is_nullable from information_schema.columns"
                " where table_schema = 'operational' and table_name = %s and column_name = %s",
                (table, claim.removeprefix(NOT_NULL)),
            ).fetchone()
            assert nullable == ("NO",), f"operational.{table}.{claim} is not NOT NULL"
        else:
            found = connection.execute(
                "select contype from pg_constraint where conname = %s and conrelid = %s::regclass",
                (claim, f"operational.{table}"),
            ).fetchone()
            assert found is not None, f"no constraint {claim} on operational.{table}"
            assert found[0] in ("p", "u", "c")
