"""The problem and knowledge marts of a small hand-made history (tests/dbt/problem_history.py),
built by the real dbt project: phase one in full, phase two by an incremental refresh, every
figure computed by hand; then a full refresh must give the same tables."""

from decimal import Decimal
from typing import Any

import pytest

from tests.dbt.conftest import DbtDatabase
from tests.dbt.problem_history import ProblemHistory

pytestmark = pytest.mark.slow

VARIABLES = {"as_of_date": "2026-03-12"}
MODELS = (
    "fct_problems",
    "fct_knowledge_articles",
    "problems_per_period",
    "problem_fix_times_per_period",
    "problem_incidents_per_period",
    "knowledge_use_per_period",
)
SELECT = [
    "--select",
    *(f"+{model}" for model in MODELS),
    "--exclude-resource-type",
    "unit_test",
    "--indirect-selection",
    "cautious",
]
TABLES = (
    "intermediate.int_problem_links_evaluated",
    "intermediate.int_problem_flows_rolled_up",
    *(f"marts.{model}" for model in MODELS),
)


@pytest.fixture(scope="module")
def built(dbt_database: DbtDatabase) -> dict[str, Any]:
    history = ProblemHistory(dbt_database.url)
    try:
        history.phase_one()
        dbt_database.dbt("build", *SELECT, variables=VARIABLES)
        after_one = {
            row["problem_number"]: row
            for row in dbt_database.rows("select * from marts.fct_problems")
        }
        open_after_one = month(dbt_database, "problems_per_period")["open_at_end_count"]
        history.phase_two()
        dbt_database.dbt("build", *SELECT, variables=VARIABLES)
    finally:
        history.dispose()
    return {"database": dbt_database, "after_one": after_one, "open_after_one": open_after_one}


def month(database: DbtDatabase, mart: str, **keys: str) -> dict[str, Any]:
    conditions = "".join(f" and {name} = %s" for name in keys)
    rows = database.rows(
        f"select * from marts.{mart} where period_grain = 'month' and period_start = '2026-03-01'"
        f" and slice_by = 'all'{conditions}",
        *keys.values(),
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_each_problem_has_its_times_and_incidents(built):
    database = built["database"]
    problems = {row["title"]: row for row in database.rows("select * from marts.fct_problems")}
    mail = problems["PRB-1 mail store"]
    assert mail["minutes_to_root_cause"] == Decimal("2880.00")  # 2 Mar 10:00 -> 4 Mar 10:00
    assert mail["minutes_to_fix"] == Decimal("10080.00")  # -> 9 Mar 10:00
    assert mail["is_known_error"] is True and mail["state"] == "resolved"
    # INC-1 (before the known error), INC-3 (after it), INC-4 (after the fix).
    assert (mail["linked_incident_count"], mail["known_error_incident_count"]) == (3, 2)
    assert (mail["recurrence_count"], mail["has_recurred"]) == (1, True)
    assert mail["open_linked_incident_count"] == 2  # INC-3 and INC-4
    before = built["after_one"][mail["problem_number"]]
    assert (before["linked_incident_count"], before["recurrence_count"]) == (2, 0)
    calendar = problems["PRB-2 calendar"]
    assert (calendar["state"], calendar["is_open"], calendar["minutes_to_fix"]) == (
        "closed",
        False,
        None,
    )
    assert calendar["ended_date"].isoformat() == "2026-03-11"


def test_problems_opened_resolved_and_open_per_period(built):
    database = built["database"]
    march = month(database, "problems_per_period")
    assert (march["opened_count"], march["resolved_count"]) == (2, 1)
    assert built["open_after_one"] == 1  # PRB-2, before it was closed
    assert march["open_at_end_count"] == 0
    fix = month(database, "problem_fix_times_per_period", measure="time_to_fix")
    assert (fix["problem_count"], fix["median_minutes"], fix["p90_minutes"]) == (
        1,
        Decimal("10080.00"),
        Decimal("10080.00"),
    )
    cause = month(database, "problem_fix_times_per_period", measure="time_to_root_cause")
    assert cause["mean_minutes"] == Decimal("2880.00")


def test_incidents_linked_with_a_known_error_and_recurring(built):
    march = month(built["database"], "problem_incidents_per_period")
    assert (march["opened_count"], march["linked_count"]) == (4, 3)
    assert (march["known_error_at_open_count"], march["recurrence_count"]) == (2, 1)
    assert (march["linked_share"], march["known_error_share"]) == (
        Decimal("0.7500"),
        Decimal("0.5000"),
    )
    by_ci = built["database"].rows(
        "select slice_value, recurrence_count from marts.problem_incidents_per_period "
        "where period_grain = 'month' and slice_by = 'ci'"
    )
    assert by_ci == [{"slice_value": "mail-01", "recurrence_count": 1}]


def test_knowledge_use_ratings_and_articles_out_of_date(built):
    database = built["database"]
    march = month(database, "knowledge_use_per_period")
    assert (march["resolved_count"], march["with_article_count"]) == (2, 1)
    assert march["with_article_mean_minutes"] == Decimal("60.00")  # INC-2
    assert march["without_article_mean_minutes"] == Decimal("180.00")  # INC-1
    articles = {
        row["title"]: row for row in database.rows("select * from marts.fct_knowledge_articles")
    }
    quota = articles["KB-A Mail quota"]
    assert (quota["use_count"], quota["resolution_count"]) == (1, 1)
    assert (quota["helpful_count"], quota["not_helpful_count"], quota["helpful_ratio"]) == (
        1,
        1,
        Decimal("0.5000"),
    )
    assert quota["is_out_of_date"] is True  # due 6 March, as of 12 March
    calendar = articles["KB-B Calendar sharing"]
    assert (calendar["is_never_used"], calendar["is_out_of_date"]) == (True, False)


def snapshot(database: DbtDatabase) -> dict[str, list[tuple]]:
    return {
        table: sorted(
            tuple(repr(value) for column, value in row.items() if column != "loaded_watermark")
            for row in database.rows(f"select * from {table}")
        )
        for table in TABLES
    }


def test_the_incremental_refresh_equals_a_full_refresh(built):
    database = built["database"]
    incremental = snapshot(database)
    assert incremental["marts.fct_problems"]
    database.dbt("build", "--full-refresh", *SELECT, variables=VARIABLES)
    assert snapshot(database) == incremental
