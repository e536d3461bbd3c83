"""Numbers that agree with the source system: imported exports reproducing each cause of a
difference, loaded by the real importer and built by the real dbt project, against figures
computed by hand below.

The ServiceNow audit log (tests/fixtures/ingest/reconciliation/servicenow_audit.csv, dates in
dd-MM-yyyy HH:mm), all P3 in March 2016:

- RC0000001, opened 1/3 09:00: sys_mod_count 0, 1, 4, 5, group A then C (B between snapshots),
  resolved 13:00 (240 min). Source: reassigned twice. Replay: once.
- RC0000002: its first row (sys_mod_count 3) is already Resolved at 2/3 08:30 with no
  resolved_at; closed 5/3 09:00. Source: resolution time unknown, reassigned once. Replay:
  resolved 08:30 (30 min), never reassigned.
- RC0000003, opened 3/3 09:00: Resolved snapshot at 10:00, resolved_at 11:30, closed 6/3.
  Source: 150 min. Replay: 60 min.
- RC0000004, opened 4/3 09:00: sys_mod_count 0, 1, 4, Resolved 15:00 with reopen_count 1
  (360 min). Source: reopened once. Replay: never.
- RC0000005, opened 15/3 10:00, resolved 12:20: 140 min either way.

The Jira search export (jira_search.json), P3, opened 7/3 and 8/3 09:00:

- JR-1: the changelog holds 2 of its 5 histories; Done at 12:00, resolutiondate 12:30. Source:
  210 min. Replay: 180 min.
- JR-2: Done, no resolutiondate, no changelog. Source: unknown. Replay: resolved when opened.

March, all incidents: 7 resolved. MTTR covers the 5 with a known resolution time:
(240 + 150 + 360 + 140 + 210) / 5 = 220.0 minutes, median 210, leaving out RC0000002 and JR-2.
Before this change the replay gave (240 + 30 + 60 + 360 + 140 + 180 + 0) / 7 = 144.29 (JR-1
resolved at 12:00 is 180 minutes, JR-2 at its opening is 0).
FCR covers the same 5: RC0000003, RC0000005 and JR-1 were never reassigned or reopened: 3 / 5.
Reassigned (source counters): RC0000001 and RC0000002, 2 of 7.
"""

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, pool

from ingest import loader, sources
from tests.dbt.conftest import DbtDatabase

pytestmark = pytest.mark.slow

VARIABLES = {"as_of_date": "2016-03-31"}


@pytest.fixture(scope="module")
def built(dbt_database: DbtDatabase, fixtures_dir) -> dict[str, Any]:
    engine = create_engine(dbt_database.url, poolclass=pool.NullPool)
    reports = {}
    try:
        for source, name in (
            ("servicenow-audit", "servicenow_audit.csv"),
            ("jira", "jira_search.json"),
        ):
            parsed = sources.parse(source, fixtures_dir / "reconciliation" / name)
            reports[source] = loader.load(parsed, engine=engine, workers=1)
    finally:
        engine.dispose()
    dbt_database.dbt("build", variables=VARIABLES)
    return {"database": dbt_database, "reports": reports}


@pytest.fixture(scope="module")
def fixtures_dir():
    from tests.ingest.conftest import FIXTURES

    return FIXTURES


def incidents(database: DbtDatabase) -> dict[str, dict[str, Any]]:
    return {
        row["external_id"]: row
        for row in database.rows("select * from marts.fct_incidents where is_imported")
    }


def test_source_figures_win_and_the_replay_stays_beside(built):
    rows = incidents(built["database"])
    one = rows["RC0000001"]
    assert (one["reassignment_count"], one["replayed_reassignment_count"]) == (2, 1)
    assert one["missing_updates"] == 2 and one["has_history_gap"]
    assert one["is_first_contact_resolution"] is False

    three = rows["RC0000003"]
    assert three["resolved_at_basis"] == "source"
    assert three["resolved_at"].isoformat() == "2016-03-03T11:30:00+00:00"
    assert three["replayed_resolved_at"].isoformat() == "2016-03-03T10:00:00+00:00"
    assert three["minutes_to_resolve"] == Decimal("150.00")
    assert three["is_first_contact_resolution"] is True

    four = rows["RC0000004"]
    assert (four["reopen_count"], four["replayed_reopen_count"]) == (1, 0)
    assert four["is_reopened"] and four["is_first_contact_resolution"] is False

    jira = rows["JR-1"]
    assert jira["minutes_to_resolve"] == Decimal("210.00")
    assert jira["missing_updates"] == 3


def test_unknown_stays_unknown(built):
    rows = incidents(built["database"])
    for ticket in ("RC0000002", "JR-2"):
        row = rows[ticket]
        assert row["is_resolved"] and row["resolved_at_basis"] == "unknown", ticket
        assert not row["is_resolution_time_known"]
        assert row["minutes_to_resolve"] is None and row["business_minutes_to_resolve"] is None
        assert row["is_first_contact_resolution"] is None
    # Still resolved in March: when the export first shows it resolved.
    assert rows["RC0000002"]["resolved_date"].isoformat() == "2016-03-02"


def test_mttr_fcr_and_reassignment_rate_of_march(built):
    database = built["database"]
    [mttr] = database.rows(
        "select * from marts.mttr_per_period where period_grain = 'month' "
        "and period_start = '2016-03-01' and slice_by = 'all'"
    )
    assert mttr["resolved_count"] == 7
    assert (mttr["mttr_covered_count"], mttr["mttr_left_out_count"]) == (5, 2)
    assert mttr["mttr_minutes"] == Decimal("220.00")
    assert mttr["mttr_median_minutes"] == Decimal("210.00")
    [fcr] = database.rows(
        "select * from marts.fcr_per_period where period_grain = 'month' "
        "and period_start = '2016-03-01' and slice_by = 'all'"
    )
    assert (fcr["fcr_covered_count"], fcr["fcr_left_out_count"]) == (5, 2)
    assert (fcr["first_contact_resolved_count"], fcr["fcr_rate"]) == (3, Decimal("0.6000"))
    [reassigned] = database.rows(
        "select * from marts.reassignment_rate_per_period where period_grain = 'month' "
        "and period_start = '2016-03-01' and slice_by = 'all'"
    )
    assert (reassigned["reassigned_count"], reassigned["reassignment_count"]) == (2, 3)
    assert reassigned["reassignment_rate"] == Decimal("0.2857")


def test_source_reconciliation_lists_every_difference(built):
    database = built["database"]
    rows = {
        (row["external_id"], row["field_name"]): row
        for row in database.rows("select * from marts.source_reconciliation")
    }
    assert set(rows) == {
        ("RC0000001", "reassignment_count"),
        ("RC0000002", "reassignment_count"),
        ("RC0000002", "resolved_at"),
        ("RC0000003", "resolved_at"),
        ("RC0000004", "reopen_count"),
        ("JR-1", "resolved_at"),
        ("JR-2", "resolved_at"),
    }
    late = rows[("RC0000003", "resolved_at")]
    assert (late["source_value"], late["replayed_value"]) == (
        "2016-03-03 11:30:00",
        "2016-03-03 10:00:00",
    )
    assert (late["difference"], late["outcome"]) == (Decimal("-90.00"), "replay_lower")
    counted = rows[("RC0000001", "reassignment_count")]
    assert (counted["source_value"], counted["replayed_value"], counted["outcome"]) == (
        "2",
        "1",
        "replay_lower",
    )
    assert rows[("RC0000002", "resolved_at")]["outcome"] == "unknown"

    summary = {
        (row["source_system"], row["field_name"]): row
        for row in database.rows("select * from marts.source_reconciliation_summary")
    }
    resolved = summary[("servicenow", "resolved_at")]
    assert (resolved["compared_count"], resolved["agree_count"], resolved["differ_count"]) == (
        4,
        3,
        1,
    )
    assert (resolved["unknown_count"], resolved["largest_difference"]) == (1, Decimal("90.00"))
    assert summary[("servicenow", "reassignment_count")]["agreement_rate"] == Decimal("0.6000")
    assert summary[("jira", "resolved_at")]["unknown_count"] == 1


def test_the_import_run_stores_the_reconciliation(built):
    figures = built["reports"]["servicenow-audit"].reconciliation
    assert figures["fields"]["reassignment_count"]["agree"] == 3
    assert figures["fields"]["reassignment_count"]["compared"] == 5
    assert figures["fields"]["resolved_at"]["unknown"] == 1
    assert figures["missing_updates"] == 7  # RC0000001 2, RC0000002 3, RC0000004 2
    [stored] = built["database"].rows(
        "select reconciliation from operational.import_runs where source = 'servicenow-audit'"
    )
    assert stored["reconciliation"] == figures


def test_the_timeline_shows_where_the_history_has_a_gap(built):
    rows = built["database"].rows(
        "select e.event_seq, e.field_name, e.new_value from staging.stg_operational__events e "
        "join marts.fct_incidents f on f.incident_id = e.entity_id and e.entity_type = 'incident'"
        " where f.external_id = 'RC0000001' order by e.event_seq"
    )
    gaps = [row for row in rows if row["field_name"] == "history_gap"]
    assert [row["new_value"] for row in gaps] == [
        "2 update(s) missing from the export (sys_mod_count 1 to 4)"
    ]
