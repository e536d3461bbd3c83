"""The marts' guarantees can fail: the database refuses a row that breaks a contract constraint
(a duplicate key, a null key, an unknown grain), and each data test (a Dagster asset check)
catches the inconsistency it is written for."""

from typing import Any

import psycopg
import pytest

from tests.dbt.conftest import AS_OF, DbtDatabase

pytestmark = pytest.mark.slow

MARCH_ROW = "period_grain = 'month' and period_start = '2026-03-01' and slice_by = 'all'"
ROLLUP = "intermediate.int_resolved_incidents_rolled_up"


@pytest.fixture(scope="module")
def built(phase_one_built: DbtDatabase) -> DbtDatabase:
    return phase_one_built


def failing_tests(database: DbtDatabase, selector: str) -> set[str]:
    result = database.dbt("test", "--select", selector, variables=AS_OF, check=False)
    results: list[Any] = result.result.results
    assert results, "no test ran"
    return {item.node.name for item in results if str(item.status) in ("fail", "error")}


def test_the_database_refuses_a_duplicate_period_row(built: DbtDatabase):
    with pytest.raises(psycopg.errors.UniqueViolation):
        built.execute(f"insert into {ROLLUP} select * from {ROLLUP} where {MARCH_ROW}")


def test_the_database_refuses_a_null_key_and_an_unknown_grain(built: DbtDatabase):
    with pytest.raises(psycopg.errors.NotNullViolation):
        built.execute(f"update {ROLLUP} set slice_value = null where {MARCH_ROW}")
    with pytest.raises(psycopg.errors.CheckViolation):
        built.execute(f"update {ROLLUP} set period_grain = 'quarter' where {MARCH_ROW}")


def test_a_total_that_its_slices_or_tickets_do_not_explain_fails(built: DbtDatabase):
    assert failing_tests(built, "int_resolved_incidents_rolled_up") == set()
    built.execute(f"update {ROLLUP} set resolved_count = resolved_count + 1 where {MARCH_ROW}")
    try:
        failing = failing_tests(built, "int_resolved_incidents_rolled_up")
    finally:
        built.execute(f"update {ROLLUP} set resolved_count = resolved_count - 1 where {MARCH_ROW}")
    assert {name.split("_int_resolved")[0] for name in failing} == {
        "slices_add_up",
        "agrees_with_incidents",
    }
    assert failing_tests(built, "int_resolved_incidents_rolled_up") == set()


def test_an_incident_missing_from_the_drill_down_fails(built: DbtDatabase):
    assert failing_tests(built, "fct_incidents,test_name:covers_every") == set()
    rows = built.rows(
        "delete from marts.fct_incidents where incident_number = 'INC-B' returning incident_id"
    )
    assert len(rows) == 1
    assert failing_tests(built, "fct_incidents,test_name:covers_every") == {
        "covers_every_fct_incidents_incident_id__incident_id__ref_stg_operational__incidents_"
    }
