"""The marts' data tests check what each build replaced (macros/get_where_subquery.sql), old rows
of the replaced keys included: a stale row left beside a rewritten one is still caught."""

from typing import Any

import pytest

from tests.dbt.conftest import DbtDatabase
from tests.dbt.history import History

VARIABLES = {"as_of_date": "2026-03-12"}
MARCH_ROW = "period_grain = 'month' and period_start = '2026-03-01' and slice_by = 'all'"


@pytest.fixture(scope="module")
def built(dbt_database: DbtDatabase) -> DbtDatabase:
    history = History(dbt_database.url)
    try:
        history.phase_one()
    finally:
        history.dispose()
    dbt_database.dbt("build", "--exclude-resource-type", "unit_test", variables=VARIABLES)
    return dbt_database


def failing_tests(database: DbtDatabase, selector: str) -> set[str]:
    result = database.dbt("test", "--select", selector, variables=VARIABLES, check=False)
    results: list[Any] = result.result.results
    assert results, "no test ran"
    return {item.node.name for item in results if str(item.status) in ("fail", "error")}


def test_a_stale_row_beside_a_rebuilt_period_fails_the_key_test(built: DbtDatabase):
    assert failing_tests(built, "mttr_per_period") == set()
    # A row of the same period that an earlier build left behind: older watermark, same key.
    built.execute(
        "insert into marts.mttr_per_period select * from marts.mttr_per_period where " + MARCH_ROW,
    )
    built.execute(
        "update marts.mttr_per_period set loaded_watermark = loaded_watermark - interval '1 day' "
        "where ctid = (select max(ctid) from marts.mttr_per_period where " + MARCH_ROW + ")",
    )
    failing = failing_tests(built, "mttr_per_period")
    assert any(name.startswith("unique_combination_mttr_per_period") for name in failing)
    built.execute(
        "delete from marts.mttr_per_period where ctid = "
        "(select max(ctid) from marts.mttr_per_period where " + MARCH_ROW + ")",
    )
    assert failing_tests(built, "mttr_per_period") == set()
