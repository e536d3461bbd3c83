"""The request marts of a small history made through the request flows, built by the real dbt
project: phase one in full, phase two by an incremental refresh; every figure is computed by
hand below. A --full-refresh then rebuilds the same tables.

The history and its facts: tests/dbt/request_history.py.
"""

from decimal import Decimal
from typing import Any

import pytest

from tests.dbt.conftest import DbtDatabase
from tests.dbt.request_history import RequestHistory

pytestmark = pytest.mark.slow

VARIABLES = {"as_of_date": "2026-03-12"}
REQUEST_TABLES = (
    "intermediate.int_request_items_measured",
    "marts.fct_request_items",
    "marts.fct_requests",
    "marts.fct_request_approvals",
    "marts.request_approval_evidence",
    "marts.request_fulfilment_per_period",
    "marts.approval_turnaround_per_period",
    "marts.request_volume_per_period",
    "marts.catalog_item_summary",
)


@pytest.fixture(scope="module")
def built(dbt_database: DbtDatabase) -> DbtDatabase:
    history = RequestHistory(dbt_database.url)
    try:
        history.phase_one()
        dbt_database.dbt("build", variables=VARIABLES)
        history.phase_two()
        dbt_database.dbt("build", variables=VARIABLES)
    finally:
        history.dispose()
    return dbt_database


def one(database: DbtDatabase, sql: str, *params: Any) -> dict[str, Any]:
    rows = database.rows(sql, *params)
    assert len(rows) == 1, rows
    return rows[0]


def march(database: DbtDatabase, mart: str, slice_by: str = "all", slice_value: str = "all"):
    return one(
        database,
        f"select * from marts.{mart} where period_grain = 'month' and period_start = '2026-03-01'"
        " and slice_by = %s and slice_value = %s",
        slice_by,
        slice_value,
    )


def test_each_request_item_with_its_times_and_verdict(built):
    rows = built.rows(
        "select catalog_item_name, item_state, minutes_to_deliver, business_minutes_to_deliver,"
        " approval_wait_minutes, fulfilment_minutes, fulfilment_business_minutes,"
        " requester_wait_business_minutes, delivery_sla_met, approval_stage_count"
        " from marts.fct_request_items order by opened_at"
    )
    assert [tuple(row.values()) for row in rows] == [
        (
            "Laptop",
            "delivered",
            Decimal("1620.00"),
            Decimal("1620.00"),
            Decimal("180.00"),
            Decimal("1440.00"),
            Decimal("1440.00"),
            Decimal("0.00"),
            True,
            2,
        ),
        (
            "Mouse",
            "delivered",
            Decimal("1440.00"),
            Decimal("1440.00"),
            Decimal("0.00"),
            Decimal("1440.00"),
            Decimal("1440.00"),
            Decimal("0.00"),
            False,
            0,
        ),
        ("Laptop", "rejected", None, None, Decimal("240.00"), None, None, Decimal("0.00"), None, 1),
        (
            "Mouse",
            "delivered",
            Decimal("240.00"),
            Decimal("120.00"),
            Decimal("0.00"),
            Decimal("240.00"),
            Decimal("120.00"),
            Decimal("120.00"),
            True,
            0,
        ),
    ]
    requests = built.rows(
        "select request_state, item_count, total_cost, csat_rating from marts.fct_requests"
        " order by opened_at"
    )
    assert [tuple(row.values()) for row in requests] == [
        ("closed", 1, Decimal("1200.00"), 5),
        ("closed", 1, Decimal("20.00"), None),
        ("closed", 1, Decimal("1200.00"), None),
        ("closed", 1, Decimal("20.00"), None),
    ]


def test_fulfilment_time_split_and_delivery_compliance_of_march(built):
    row = march(built, "request_fulfilment_per_period")
    assert row["delivered_count"] == 3
    # 1,620, 1,440 and 240: mean 1,100, median 1,440, p90 1,440 + 0.8 * 180 = 1,584.
    assert (
        row["fulfilment_minutes"],
        row["fulfilment_median_minutes"],
        row["fulfilment_p90_minutes"],
    ) == (
        Decimal("1100.00"),
        Decimal("1440.00"),
        Decimal("1584.00"),
    )
    # Business: 1,620, 1,440 and 120 (R4's wait for the requester does not count).
    assert (row["fulfilment_business_minutes"], row["fulfilment_median_business_minutes"]) == (
        Decimal("1060.00"),
        Decimal("1440.00"),
    )
    assert row["approval_wait_minutes"] == Decimal("60.00")  # (180 + 0 + 0) / 3
    assert row["fulfilment_work_minutes"] == Decimal("1040.00")  # (1,440 + 1,440 + 240) / 3
    assert row["fulfilment_work_business_minutes"] == Decimal(
        "1000.00"
    )  # (1,440 + 1,440 + 120) / 3
    assert (row["sla_met_count"], row["delivery_sla_compliance"]) == (2, Decimal("0.6667"))
    mice = march(built, "request_fulfilment_per_period", "catalog_item", "Mouse")
    assert (mice["delivered_count"], mice["fulfilment_minutes"]) == (2, Decimal("840.00"))


def test_approval_turnaround_per_stage_and_approver_and_rejection_rate(built):
    row = march(built, "approval_turnaround_per_period")
    # 60 (Bob), 120 (Cora), 240 (Bob, rejected): mean 140, median 120, p90 120 + 0.8 * 120.
    assert (row["decided_count"], row["rejected_count"], row["rejection_rate"]) == (
        3,
        1,
        Decimal("0.3333"),
    )
    assert (
        row["turnaround_minutes"],
        row["turnaround_median_minutes"],
        row["turnaround_p90_minutes"],
    ) == (
        Decimal("140.00"),
        Decimal("120.00"),
        Decimal("216.00"),
    )
    bob = march(built, "approval_turnaround_per_period", "approver", "Bob Boss")
    assert (bob["decided_count"], bob["rejection_rate"], bob["turnaround_minutes"]) == (
        2,
        Decimal("0.5000"),
        Decimal("150.00"),
    )
    finance = march(built, "approval_turnaround_per_period", "stage", "Finance")
    assert (finance["decided_count"], finance["turnaround_minutes"]) == (1, Decimal("120.00"))


def test_volume_and_backlog(built):
    row = one(built, "select * from marts.request_volume_per_period where period_grain = 'month'")
    assert (
        row["opened_count"],
        row["delivered_count"],
        row["rejected_count"],
        row["open_at_end_count"],
    ) == (4, 3, 1, 0)
    # On 3 March: R2 opened; R1 delivered; R2 still open at the end of the day.
    day = one(
        built,
        "select * from marts.request_volume_per_period"
        " where period_grain = 'day' and period_start = '2026-03-03'",
    )
    assert (day["opened_count"], day["delivered_count"], day["open_at_end_count"]) == (1, 1, 1)


def test_per_catalog_item_volume_time_and_csat(built):
    rows = {
        row["catalog_item_name"]: row
        for row in built.rows("select * from marts.catalog_item_summary")
    }
    laptop, mouse = rows["Laptop"], rows["Mouse"]
    assert (laptop["ordered_count"], laptop["delivered_count"], laptop["rejection_rate"]) == (
        2,
        1,
        Decimal("0.5000"),
    )
    assert (laptop["fulfilment_minutes"], laptop["delivery_sla_compliance"]) == (
        Decimal("1620.00"),
        Decimal("1.0000"),
    )
    assert (laptop["csat_answer_count"], laptop["csat_mean_rating"]) == (1, Decimal("5.00"))
    assert (
        mouse["ordered_count"],
        mouse["fulfilment_minutes"],
        mouse["delivery_sla_compliance"],
    ) == (
        2,
        Decimal("840.00"),
        Decimal("0.5000"),
    )
    assert mouse["csat_answer_count"] == 0


def test_approval_evidence_names_who_decided_what_under_which_policy_version(built):
    rows = built.rows(
        "select request_item_number, stage_name, decided_by_name, decision, policy_version, comment"
        " from marts.request_approval_evidence order by decided_at"
    )
    assert [
        (r["stage_name"], r["decided_by_name"], r["decision"], r["policy_version"], r["comment"])
        for r in rows
    ] == [
        ("Manager", "Bob Boss", "approved", 1, None),
        ("Finance", "Cora CFO", "approved", 1, None),
        ("Manager", "Bob Boss", "rejected", 1, "not in budget"),
    ]


def test_incremental_refresh_equals_a_full_refresh(built):
    def snapshot() -> dict[str, list]:
        return {
            table: sorted(
                tuple(repr(v) for k, v in row.items() if k != "loaded_watermark")
                for row in built.rows(f"select * from {table}")
            )
            for table in REQUEST_TABLES
        }

    incremental = snapshot()
    assert len(incremental["marts.fct_request_items"]) == 4
    built.dbt(
        "build",
        "--full-refresh",
        "--select",
        "+fct_requests+ +fct_request_items+ +fct_request_approvals+",
        variables=VARIABLES,
    )
    assert snapshot() == incremental
