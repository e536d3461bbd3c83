"""The marts of a small hand-made history (tests/dbt/history.py), built by the real dbt project.

Phase one is built in full, phase two by an incremental refresh, as the pipelines do; every
figure below is computed by hand from the history. The last test rebuilds everything with
--full-refresh and checks that the incremental refresh produced the same tables.
"""

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.dbt.conftest import DbtDatabase
from tests.dbt.history import History

pytestmark = pytest.mark.slow

# A fixed "today" for the backlog.
VARIABLES = {"as_of_date": "2026-03-12"}
# Time-relative by design (ages "as of the build", the build time itself), or a record of what
# each build touched (int_metric_days_touched).
NOT_REPRODUCIBLE = {
    "marts_freshness",
    "access_review",
    "incremental_watermarks",
    "int_metric_days_touched",
}
# Build metadata: when a row was built, not a fact about the data.
BUILD_METADATA = {"loaded_watermark"}


def row_versions(database: DbtDatabase, table: str, number: str) -> list[str]:
    """PostgreSQL row versions (xmin) of one incident's rows: unchanged if never rewritten."""
    return [
        row["xmin"]
        for row in database.rows(
            f"select t.xmin::text as xmin from {table} t "
            "join marts.fct_incidents f using (incident_id) where f.incident_number = %s "
            "order by t.xmin::text",
            number,
        )
    ]


@pytest.fixture(scope="module")
def marts(dbt_database: DbtDatabase) -> dict[str, Any]:
    history = History(dbt_database.url)
    try:
        history.phase_one()
        dbt_database.dbt("build", variables=VARIABLES)
        before = {
            table: {
                number: row_versions(dbt_database, table, number) for number in ("INC-A", "INC-C")
            }
            for table in ("marts.fct_incidents", "intermediate.int_incidents_lifecycle_rebuilt")
        }
        history.phase_two()
        dbt_database.dbt("build", variables=VARIABLES)
    finally:
        history.dispose()
    return {"database": dbt_database, "versions_before": before}


def one(database: DbtDatabase, sql: str, *params: Any) -> dict[str, Any]:
    rows = database.rows(sql, *params)
    assert len(rows) == 1, rows
    return rows[0]


def monthly(database: DbtDatabase, mart: str, **keys: str) -> dict[str, Any]:
    conditions = "".join(f" and {name} = %s" for name in keys)
    return one(
        database,
        f"select * from marts.{mart} where period_grain = 'month' and period_start = '2026-03-01'"
        f" and slice_by = 'all'{conditions}",
        *keys.values(),
    )


def test_each_incident_lifecycle_is_rebuilt_from_its_events(marts):
    database = marts["database"]
    incidents = {
        row["incident_number"]: row
        for row in database.rows("select * from marts.fct_incidents order by incident_number")
    }
    assert set(incidents) == {"INC-A", "INC-B", "INC-C", "INC-D", "INC-E", "INC-F"}

    reopened = incidents["INC-A"]
    assert reopened["acknowledgement_kind"] == "assigned_to_person"
    assert reopened["minutes_to_acknowledge"] == Decimal("10.00")
    assert reopened["reopen_count"] == 1
    assert reopened["resolution_count"] == 2
    assert reopened["minutes_to_resolve"] == Decimal("180.00")  # to the last resolution
    assert reopened["is_first_contact_resolution"] is False
    assert reopened["csat_rating"] == 5

    paused = incidents["INC-B"]
    assert paused["acknowledgement_kind"] == "agent_public_comment"
    assert paused["reassignment_count"] == 1
    assert paused["team_name"] == "Network"
    assert paused["on_hold_calendar_minutes"] == Decimal("3960.00")  # Friday 16:00 to Monday 10:00
    assert paused["has_awaited_caller"] is True
    assert paused["minutes_to_resolve"] == Decimal("4080.00")
    assert paused["business_minutes_to_resolve"] == Decimal("240.00")
    assert paused["resolution_sla_clock_minutes"] == Decimal("120.00")

    breached = incidents["INC-C"]
    assert breached["minutes_to_acknowledge"] == Decimal(
        "30.00"
    )  # Rita's own comment did not count
    assert breached["is_first_contact_resolution"] is True
    assert breached["made_sla"] is False
    assert breached["source_made_sla"] is True

    cancelled = incidents["INC-D"]
    assert cancelled["lifecycle_status"] == "cancelled"
    assert cancelled["acknowledged_at"] is None
    assert cancelled["minutes_to_resolve"] is None

    still_open = incidents["INC-E"]
    assert still_open["lifecycle_status"] == "open"
    assert still_open["acknowledgement_kind"] == "moved_to_in_progress"
    assert still_open["minutes_to_acknowledge"] == Decimal("60.00")


def test_incident_metrics_of_march(marts):
    database = marts["database"]
    # Acknowledged after 10, 5, 30 and 60 minutes.
    mtta = monthly(database, "mtta_per_period")
    assert (mtta["acknowledged_count"], mtta["mtta_minutes"]) == (4, Decimal("26.25"))
    assert (mtta["mtta_median_minutes"], mtta["mtta_p90_minutes"]) == (
        Decimal("20.00"),
        Decimal("51.00"),
    )
    # Resolved after 180, 4080 and 1920 minutes; the cancelled INC-D does not count.
    mttr = monthly(database, "mttr_per_period")
    assert (mttr["resolved_count"], mttr["mttr_minutes"]) == (3, Decimal("2060.00"))
    assert (mttr["mttr_median_minutes"], mttr["mttr_p90_minutes"]) == (
        Decimal("1920.00"),
        Decimal("3648.00"),
    )
    # Business minutes from the SLA timers: 240 (INC-B) and 900 (INC-C); INC-A has no timer.
    assert (mttr["business_time_count"], mttr["mttr_business_minutes"]) == (2, Decimal("570.00"))

    assert monthly(database, "fcr_per_period")["fcr_rate"] == Decimal("0.3333")
    assert monthly(database, "reassignment_rate_per_period")["reassignment_rate"] == Decimal(
        "0.3333"
    )
    assert monthly(database, "reopen_rate_per_period")["reopen_rate"] == Decimal("0.3333")

    # Four surveys sent, three answered (5, 4 and 2).
    csat = monthly(database, "csat_per_period")
    assert (csat["response_rate"], csat["csat_rate"], csat["mean_rating"]) == (
        Decimal("0.7500"),
        Decimal("0.6667"),
        Decimal("3.67"),
    )

    network = one(
        database,
        "select * from marts.mttr_per_period where period_grain = 'month' "
        "and period_start = '2026-03-01' and slice_by = 'team' and slice_value = 'Network'",
    )
    assert (network["resolved_count"], network["mttr_minutes"]) == (2, Decimal("3000.00"))


def test_drill_down_marts(marts):
    database = marts["database"]
    agents = {
        (row["agent_name"], row["team_name"]): row
        for row in database.rows(
            "select * from marts.performance_per_agent "
            "where period_grain = 'month' and period_start = '2026-03-01'"
        )
    }
    assert set(agents) == {("Alice", "Service Desk"), ("Bob", "Network")}
    bob = agents[("Bob", "Network")]  # INC-B (4080 minutes, rated 4) and INC-C (1920, rated 2)
    assert (bob["resolved_count"], bob["mttr_minutes"], bob["fcr_rate"], bob["csat_rate"]) == (
        2,
        Decimal("3000.00"),
        Decimal("0.5000"),
        Decimal("0.5000"),
    )
    answers = database.rows(
        "select incident_number, rating from marts.fct_csat_answers order by answered_at"
    )
    assert [(row["incident_number"], row["rating"]) for row in answers] == [
        ("INC-A", 5),
        ("INC-B", 4),
        ("INC-C", 2),
    ]
    stretches = database.rows(
        "select opened_at, closed_at from marts.fct_incident_open_intervals "
        "where incident_number = 'INC-A' order by interval_number"
    )
    assert [(row["opened_at"].hour, row["closed_at"].hour) for row in stretches] == [
        (9, 10),
        (11, 12),
    ]


def test_sla_compliance_breaches_and_the_source_flag(marts):
    database = marts["database"]
    response = monthly(database, "sla_compliance_per_period", target_type="response")
    resolution = monthly(database, "sla_compliance_per_period", target_type="resolution")
    assert (response["completed_count"], response["compliance_rate"]) == (2, Decimal("1.0000"))
    assert (resolution["completed_count"], resolution["compliance_rate"]) == (2, Decimal("0.5000"))

    breach = one(database, "select * from marts.sla_breach_register")
    assert (breach["incident_number"], breach["target_type"], breach["team_name"]) == (
        "INC-C",
        "resolution",
        "Network",
    )
    assert breach["due_at"] == breach["breached_at"]
    assert breach["business_minutes_over_target"] == Decimal("660.00")

    compared = one(database, "select * from marts.sla_source_comparison")
    assert (compared["incident_number"], compared["comparison"]) == (
        "INC-C",
        "source_met_we_breached",
    )


def test_backlog_at_the_end_of_each_day(marts):
    database = marts["database"]
    daily = {
        (str(row["period_start"]), row["age_bucket"]): row["open_count"]
        for row in database.rows(
            "select * from marts.backlog_per_period where period_grain = 'day' and slice_by = 'all'"
        )
    }
    assert daily[("2026-03-02", "all")] == 0  # INC-A was resolved again at noon
    assert daily[("2026-03-06", "0-1d")] == 1  # INC-B, opened at 15:00
    assert daily[("2026-03-07", "1-3d")] == 1  # INC-B on hold over the weekend is still open
    assert daily[("2026-03-09", "all")] == 1  # INC-C; INC-B was resolved, INC-D cancelled
    assert daily[("2026-03-11", "1-3d")] == 1  # INC-E, 39 hours old
    weekly = one(
        database,
        "select * from marts.backlog_per_period where period_grain = 'week' "
        "and period_start = '2026-03-09' and slice_by = 'all' and age_bucket = 'all'",
    )
    assert (str(weekly["snapshot_date"]), weekly["open_count"]) == ("2026-03-12", 1)


def test_change_and_access_compliance(marts):
    database = marts["database"]
    success = one(
        database,
        "select * from marts.change_success_per_period where period_grain = 'month' "
        "and period_start = '2026-03-01' and slice_by = 'all'",
    )
    assert (success["completed_count"], success["success_rate"], success["emergency_share"]) == (
        2,
        Decimal("0.5000"),
        Decimal("0.5000"),
    )
    evidence = {
        row["change_number"]: row
        for row in database.rows("select * from marts.change_approval_evidence")
    }
    normal, emergency = evidence["CHG-1"], evidence["CHG-2"]
    assert normal["quorum_met"] is True
    assert normal["approvers"] == "Adam (approved); Audrey (approved)"
    assert not any(
        normal[flag]
        for flag in (
            "is_implemented_without_approval",
            "is_implemented_outside_window",
            "is_in_blackout",
            "is_emergency_without_retrospective",
        )
    )
    assert emergency["is_emergency_without_retrospective"] is True
    assert emergency["is_implemented_outside_window"] is True
    assert emergency["caused_incident_count"] == 1

    # Emails and login data are for auditors: the access review is in schema personal, and the
    # marts analysts read hold no email and no login time (dim_teams' team_email is a team's).
    review = {row["email"]: row for row in database.rows("select * from personal.access_review")}
    personal_columns = database.rows(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and (column_name like '%%email%%' or column_name like "
        "'%%login%%')"
    )
    assert personal_columns == [{"table_name": "dim_teams", "column_name": "team_email"}]
    assert review["adam@example.com"]["is_privileged_without_mfa"] is True
    assert review["audrey@example.com"]["is_privileged_without_mfa"] is False
    assert review["alice@example.com"]["is_privileged"] is False

    # INC-A's five state changes on Monday 2 March: new→assigned→in progress→resolved, the
    # reopen, and the second resolution.
    states = one(
        database,
        "select * from marts.audit_trail_summary where activity_date = '2026-03-02' "
        "and entity_type = 'incident' and event_kind = 'state_changed'",
    )
    assert (states["event_count"], states["record_count"], states["imported_event_count"]) == (
        5,
        1,
        0,
    )


def test_a_reopen_removes_the_resolution_from_its_period(marts):
    database = marts["database"]
    april = database.rows("select * from marts.mttr_per_period where period_start >= '2026-04-01'")
    assert april == []  # INC-F was resolved on 6 April, then reopened
    reopens = one(
        database,
        "select * from marts.reopen_rate_per_period where period_grain = 'month' "
        "and period_start = '2026-04-01' and slice_by = 'all'",
    )
    assert (reopens["first_resolved_count"], reopens["reopen_rate"]) == (1, Decimal("1.0000"))


def test_incremental_refresh_rebuilt_only_what_changed(marts):
    database, before = marts["database"], marts["versions_before"]
    for table, versions in before.items():
        assert row_versions(database, table, "INC-A") == versions["INC-A"], table
        assert row_versions(database, table, "INC-C") != versions["INC-C"], table


def snapshot(database: DbtDatabase) -> dict[str, list[tuple]]:
    tables = [
        (row["table_schema"], row["table_name"])
        for row in database.rows(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('intermediate', 'marts') and table_type = 'BASE TABLE'"
        )
        if row["table_name"] not in NOT_REPRODUCIBLE
    ]
    return {
        f"{schema}.{name}": sorted(
            tuple(repr(value) for column, value in row.items() if column not in BUILD_METADATA)
            for row in database.rows(f"select * from {schema}.{name}")
        )
        for schema, name in tables
    }


def test_each_incremental_model_records_the_watermark_of_its_last_run(marts):
    """Recorded whether the run wrote rows or not, so that a model with nothing to write (a CSAT
    rollup before the first answer) does not reprocess all history on its next run."""
    database = marts["database"]
    manifest = json.loads((database.work / "target" / "manifest.json").read_text())
    incremental = {
        f"{node['schema']}.{node['alias']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    assert {"marts.fct_incidents", "marts.csat_per_period"} <= incremental
    recorded = {
        row["model_name"]: row["watermark"]
        for row in database.rows("select * from intermediate.incremental_watermarks")
    }
    assert recorded.keys() == incremental
    for model, watermark in recorded.items():
        newest_row = one(database, f"select max(loaded_watermark) as newest from {model}")
        assert newest_row["newest"] is None or watermark >= newest_row["newest"], model


def test_incremental_refresh_equals_a_full_refresh(marts):
    database = marts["database"]
    incremental = snapshot(database)
    assert "marts.fct_incidents" in incremental
    database.dbt("build", "--full-refresh", variables=VARIABLES)
    rebuilt = snapshot(database)
    assert rebuilt.keys() == incremental.keys()
    for table in rebuilt:
        only_incremental = sorted(set(incremental[table]) - set(rebuilt[table]))
        only_rebuilt = sorted(set(rebuilt[table]) - set(incremental[table]))
        assert (table, only_incremental) == (table, only_rebuilt)
        assert rebuilt[table] == incremental[table], table


def test_docs_generate(marts):
    database = marts["database"]
    database.dbt("docs", "generate", variables=VARIABLES)
    catalog = (database.work / "target" / "catalog.json").read_text()
    assert '"model.itsm.fct_incidents"' in catalog
    assert "minutes_to_resolve" in catalog
