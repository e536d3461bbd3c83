"""Parsing: each source's canonical output, every reject reason, and event reconstruction."""

import json
from datetime import UTC, datetime

import polars as pl
import pytest

from ingest import rejects, sources
from ingest.exceptions import FormatError, MappingError, UnknownSourceError
from ingest.sources import csv_mapping, jira, servicenow_audit, servicenow_table


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def timeline(events: pl.DataFrame, ticket: str) -> list[tuple]:
    return [
        (row["seq"], row["kind"], row["field"], row["old_value"], row["new_value"])
        for row in events.filter(pl.col("external_id") == ticket).sort("seq").iter_rows(named=True)
    ]


def reasons(parsed) -> set[tuple]:
    return {
        (row["line"], row["column"], row["reason"]) for row in parsed.rejects.iter_rows(named=True)
    }


# --- ServiceNow audit ---------------------------------------------------------------------


@pytest.fixture
def audit(fixtures):
    return servicenow_audit.parse(fixtures / "servicenow_audit.csv")


def test_audit_reconstructs_reopen_and_two_reassignments(audit):
    changes = [event[1:] for event in timeline(audit.events, "INC0000045")]
    assert changes == [
        ("created", None, None, "INC0000045"),
        # sys_mod_count 1 and 2 share 29/2/2016 1:29; the file lists 2 first, the count wins
        ("assigned", "assignment_group", None, "Group 56"),
        ("state_changed", "state", "new", "assigned"),
        ("assigned", "assignee", None, "Resolver 149"),
        ("state_changed", "state", "assigned", "in_progress"),
        ("assigned", "assignment_group", "Group 56", "Group 70"),
        ("assigned", "assignee", "Resolver 149", None),
        ("state_changed", "state", "in_progress", "assigned"),
        ("assigned", "assignment_group", "Group 70", "Group 24"),
        ("assigned", "assignee", None, "Resolver 31"),
        ("state_changed", "state", "assigned", "in_progress"),
        ("state_changed", "state", "in_progress", "resolved"),
        ("field_changed", "resolution_code", None, "code 5"),
        ("state_changed", "state", "resolved", "in_progress"),  # the reopen
        ("state_changed", "state", "in_progress", "resolved"),
        ("field_changed", "resolution_code", "code 5", "code 7"),
        ("state_changed", "state", "resolved", "closed"),
    ]
    events = audit.events.filter(pl.col("external_id") == "INC0000045")
    assert events.get_column("seq").to_list() == list(range(1, 18))
    assert not events.get_column("synthesized").any()
    reopen = events.filter(pl.col("old_value") == "resolved", pl.col("new_value") == "in_progress")
    assert reopen.row(0, named=True)["occurred_at"] == utc(2016, 3, 2, 8, 5)
    assert reopen.row(0, named=True)["actor"] == "Updated by 21"


def test_audit_current_incident_is_the_last_row(audit):
    incident = audit.incidents.filter(pl.col("external_id") == "INC0000045").row(0, named=True)
    assert incident["state"] == "closed"
    assert incident["assignment_group"] == "Group 24"
    assert incident["assignee"] == "Resolver 31"
    assert incident["opened_at"] == utc(2016, 2, 29, 1, 16)  # "29/2/2016 1:16"
    assert incident["resolved_at"] == utc(2016, 3, 2, 14, 40)
    assert incident["closed_at"] == utc(2016, 3, 7, 15, 0)
    assert incident["reopen_count"] == 1
    assert incident["reassignment_count"] == 2
    assert incident["priority"] == 3  # "3 - Moderate"
    assert incident["impact"] == 2  # "2 - Medium"
    assert incident["channel"] == "phone"
    assert incident["requester"] == "Caller 2403"
    assert incident["ci"] is None  # "?"
    assert incident["source_made_sla"] is True


def test_audit_hold_priority_and_seconds(audit):
    changes = [event[1:] for event in timeline(audit.events, "INC0000047")]
    assert ("state_changed", "state", "in_progress", "on_hold") in changes
    assert ("field_changed", "hold_reason", None, "awaiting_caller") in changes
    assert ("priority_changed", "priority", "3", "2") in changes
    assert ("field_changed", "hold_reason", "awaiting_caller", None) in changes
    priority = audit.events.filter(pl.col("kind") == "priority_changed").row(0, named=True)
    assert priority["occurred_at"] == utc(2016, 3, 1, 9, 0, 30)  # "1/3/2016 9:00:30"
    assert audit.skipped == 1  # the repeated update of INC0000047


def test_audit_rejects_every_bad_row_with_line_column_and_reason(audit):
    assert reasons(audit) == {
        (17, "incident_state", rejects.UNKNOWN_STATE),  # -100
        (18, "sys_updated_at", rejects.BAD_DATE),  # 31/2/2016
        (20, "number", rejects.MISSING_KEY),
        (21, "incident_state", rejects.UNKNOWN_STATE),  # Pending Approval
        (22, "impact", rejects.UNKNOWN_VALUE),  # 7 - Extreme
        (23, "sys_mod_count", rejects.BAD_NUMBER),
        (24, "sys_updated_at", rejects.MISSING_VALUE),
        (25, "priority", rejects.UNKNOWN_VALUE),  # Urgent
    }
    placeholder = audit.rejects.filter(pl.col("line") == 17).row(0, named=True)
    assert "placeholder" in placeholder["detail"]
    assert placeholder["file"] == "servicenow_audit.csv"
    assert audit.rows_read == 24
    assert audit.rejected == 8
    assert sorted(audit.incidents.get_column("external_id")) == [
        "INC0000045",
        "INC0000047",
        "INC0000050",
    ]


def test_audit_history_continues_around_rejected_rows(audit):
    # -100 (line 17) and the bad date (line 18) are skipped: Active -> Awaiting Vendor at 8:15
    changes = timeline(audit.events, "INC0000050")
    assert changes[-2][1:] == ("state_changed", "state", "in_progress", "on_hold")
    assert changes[-1][1:] == ("field_changed", "hold_reason", None, "awaiting_vendor")
    incident = audit.incidents.filter(pl.col("external_id") == "INC0000050").row(0, named=True)
    assert (incident["state"], incident["hold_reason"]) == ("on_hold", "awaiting_vendor")


def test_audit_active_without_assignee_is_assigned(tmp_path, fixtures):
    lines = (fixtures / "servicenow_audit.csv").read_text().splitlines()
    path = tmp_path / "one.csv"
    path.write_text("\n".join([lines[0], lines[3]]) + "\n")  # Active, group only
    parsed = servicenow_audit.parse(path)
    assert parsed.incidents.get_column("state").to_list() == ["assigned"]


def test_audit_timezone_parameter(fixtures):
    parsed = servicenow_audit.parse(
        fixtures / "servicenow_audit.csv", timezone="Europe/Amsterdam", source_system="sn-eu"
    )
    incident = parsed.incidents.filter(pl.col("external_id") == "INC0000045").row(0, named=True)
    assert incident["opened_at"] == utc(2016, 2, 29, 0, 16)
    assert incident["source_system"] == "sn-eu"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"result": []}', "missing column"),
        (b"\x00\x01\x02binary", "binary"),
        (b"number;incident_state\nINC1;New\n", "missing column"),
    ],
)
def test_audit_refuses_a_file_of_another_format(tmp_path, content, problem):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=problem) as caught:
        servicenow_audit.parse(path)
    assert "ServiceNow incident audit export" in str(caught.value)


# --- ServiceNow table -----------------------------------------------------------------------


@pytest.fixture
def table(fixtures):
    return servicenow_table.parse(fixtures / "servicenow_table.json")


def test_table_display_values_and_synthesized_events(table):
    closed = table.incidents.filter(pl.col("external_id") == "INC0010001").row(0, named=True)
    assert closed["requester"] == "Abel Tuter"  # display value of a reference
    assert closed["service"] == "Email"
    assert closed["state"] == "closed"
    assert closed["resolution_code"] == "Solved (Permanently)"
    assert [event[1:] for event in timeline(table.events, "INC0010001")] == [
        ("created", None, None, "INC0010001"),
        ("assigned", "assignment_group", None, "Service Desk"),
        ("assigned", "assignee", None, "Beth Anglin"),
        ("state_changed", "state", "new", "assigned"),
        ("state_changed", "state", "assigned", "resolved"),
        ("state_changed", "state", "resolved", "closed"),
    ]
    assert table.events.get_column("synthesized").all()
    resolved = table.events.filter(
        pl.col("external_id") == "INC0010001", pl.col("new_value") == "resolved"
    )
    assert resolved.item(0, "occurred_at") == utc(2024, 3, 4, 13, 40)


def test_table_reopened_and_on_hold(table):
    reopened = [event[1:] for event in timeline(table.events, "INC0010003")]
    assert reopened[-2:] == [
        ("state_changed", "state", "assigned", "resolved"),
        ("state_changed", "state", "resolved", "in_progress"),
    ]
    on_hold = table.incidents.filter(pl.col("external_id") == "INC0010002").row(0, named=True)
    assert (on_hold["state"], on_hold["hold_reason"]) == ("on_hold", "awaiting_caller")
    assert timeline(table.events, "INC0010002")[-1][1:] == (
        "field_changed",
        "hold_reason",
        None,
        "awaiting_caller",
    )


def test_table_rejects(table):
    assert reasons(table) == {
        (5, "opened_at", rejects.BAD_DATE),
        (6, "state", rejects.UNKNOWN_STATE),
        (7, "number", rejects.MISSING_KEY),
        (8, "priority", rejects.UNKNOWN_VALUE),
    }
    assert table.incidents.height == 4


def test_table_csv_gives_the_same_incidents(tmp_path, table, fixtures):
    records = json.loads((fixtures / "servicenow_table.json").read_text())["result"][:4]
    flat = [
        {k: v["display_value"] if isinstance(v, dict) else v for k, v in r.items()} for r in records
    ]
    path = tmp_path / "incident.csv"
    pl.DataFrame(flat).write_csv(path)
    from_csv = servicenow_table.parse(path)
    assert (
        from_csv.incidents.drop("description")
        .sort("external_id")
        .equals(table.incidents.drop("description").sort("external_id"))
    )


def test_table_refuses_json_that_is_not_a_table_export(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('{"issues": []}')
    with pytest.raises(FormatError):
        servicenow_table.parse(path)


# --- Jira -----------------------------------------------------------------------------------


@pytest.fixture
def jira_export(fixtures):
    return jira.parse(fixtures / "jira_search.json", mapping=fixtures / "jira_mapping.yaml")


def test_jira_changelog_becomes_events(jira_export):
    changes = [event[1:] for event in timeline(jira_export.events, "OPS-101")]
    assert changes[:7] == [
        ("created", None, None, "OPS-101"),
        ("state_changed", "state", "new", "assigned"),  # created in "Waiting for support"
        ("assigned", "assignment_group", None, "Service Desk"),
        ("assigned", "assignee", None, "Lena Park"),
        ("assigned", "assignment_group", "Service Desk", "Web Team"),
        ("assigned", "assignee", "Lena Park", "Omar Haddad"),
        ("priority_changed", "priority", "3", "2"),
    ]
    assert ("comment_added", None, None, "Looking into it.") in changes
    assert ("work_note_added", None, None, "Upstream pool exhausted.") in changes
    assert ("field_changed", "hold_reason", None, "awaiting_caller") in changes
    assert ("state_changed", "state", "resolved", "in_progress") in changes  # reopened
    assert ("field_changed", "labels", None, "payments") in changes
    # The changelog says 9 histories and holds 8: the timeline shows the gap after them.
    gaps = [change for change in changes if change[1] == "history_gap"]
    assert gaps == [
        (
            "field_changed",
            "history_gap",
            None,
            "1 update(s) missing from the export (the changelog holds 8 of 9 histories)",
        )
    ]
    changes = [change for change in changes if change[1] != "history_gap"]
    assert changes[-2][1:] == ("state", "in_progress", "resolved")
    first = jira_export.events.filter(pl.col("external_id") == "OPS-101").row(0, named=True)
    assert first["occurred_at"] == utc(2024, 1, 15, 8, 30)  # +0100
    assert first["source_system"] == "jira-ops"


def test_jira_incident_fields(jira_export):
    incident = jira_export.incidents.filter(pl.col("external_id") == "OPS-101").row(0, named=True)
    assert incident["assignment_group"] == "Web Team"  # customfield_10050
    assert incident["service"] == "Web shop"  # components
    assert incident["state"] == "resolved"
    assert incident["priority"] == 2
    other = jira_export.incidents.filter(pl.col("external_id") == "OPS-107").row(0, named=True)
    assert other["description"] == "Since the move."  # Atlassian Document Format


def test_jira_rejects_and_skips(jira_export):
    assert reasons(jira_export) == {
        (2, "changelog status fromString", rejects.UNKNOWN_STATE),
        (4, "fields.created", rejects.BAD_DATE),
        (5, "key", rejects.MISSING_KEY),
        (6, "fields.priority", rejects.UNKNOWN_VALUE),
    }
    assert jira_export.skipped == 1  # the Task
    assert jira_export.rows_read == 7
    assert sorted(jira_export.incidents.get_column("external_id")) == ["OPS-101", "OPS-107"]


def test_jira_without_changelog_is_refused(tmp_path):
    path = tmp_path / "search.json"
    path.write_text('{"issues": [{"key": "A-1", "fields": {}}]}')
    with pytest.raises(FormatError, match="expand=changelog"):
        jira.parse(path)


def test_jira_mapping_to_an_unknown_state_is_refused(tmp_path, fixtures):
    path = tmp_path / "mapping.yaml"
    path.write_text("statuses:\n  Parked: parked\n")
    with pytest.raises(MappingError, match="Parked"):
        jira.parse(fixtures / "jira_search.json", mapping=path)


# --- generic mapping ------------------------------------------------------------------------


def test_generic_topdesk_example(fixtures, mappings):
    parsed = csv_mapping.parse(
        fixtures / "topdesk_incidents.csv", mapping=mappings / "topdesk_incidents.yaml"
    )
    first = parsed.incidents.filter(pl.col("external_id") == "I 2403 001").row(0, named=True)
    assert first["opened_at"] == utc(2024, 3, 4, 7, 5)  # 08:05 Amsterdam (CET)
    assert (first["impact"], first["urgency"], first["priority"]) == (3, 1, 2)
    assert first["channel"] == "phone"
    assert first["description"] == "Password reset did not help; error 0x5"
    waiting = parsed.incidents.filter(pl.col("external_id") == "I 2403 002").row(0, named=True)
    assert (waiting["state"], waiting["hold_reason"]) == ("on_hold", "awaiting_caller")
    assert waiting["description"] is None  # "-" is a null value in this mapping
    assert reasons(parsed) == {
        (5, "Call date", rejects.BAD_DATE),  # 31-3-2024 02:30 does not exist in Amsterdam
        (6, "Status", rejects.UNKNOWN_STATE),
        (7, "Number", rejects.MISSING_KEY),
        (8, "Impact", rejects.UNKNOWN_VALUE),
        (9, "Reassignments", rejects.BAD_NUMBER),
    }
    assert parsed.events.get_column("synthesized").all()


def test_generic_history_file(fixtures):
    parsed = csv_mapping.parse(
        fixtures / "helpdesk_incidents.csv", mapping=fixtures / "helpdesk_incidents.yaml"
    )
    assert [event[1:] for event in timeline(parsed.events, "HD-1")] == [
        ("created", None, None, "HD-1"),
        ("assigned", "assignee", None, "Kim Lee"),
        ("state_changed", "state", "new", "in_progress"),
        ("comment_added", None, None, "Rebooted the spooler"),
        ("state_changed", "state", "in_progress", "resolved"),
        ("state_changed", "state", "resolved", "in_progress"),
        ("state_changed", "state", "in_progress", "resolved"),
    ]
    assert not parsed.events.filter(pl.col("external_id") == "HD-1")["synthesized"].any()
    assert parsed.events.filter(pl.col("external_id") == "HD-2")["synthesized"].all()
    history_rejects = {
        (row["line"], row["reason"])
        for row in parsed.rejects.filter(pl.col("file") == "helpdesk_activity.csv").iter_rows(
            named=True
        )
    }
    assert history_rejects == {
        (9, rejects.UNKNOWN_STATE),  # archived
        (10, rejects.BAD_DATE),
        (11, rejects.MISSING_KEY),  # HD-3 is not in the incidents file
        (12, rejects.UNKNOWN_VALUE),  # escalate
    }


def test_generic_configuration_items_example(fixtures, mappings):
    parsed = csv_mapping.parse(
        fixtures / "cmdb_cis.csv", mapping=mappings / "cmdb_configuration_items.yaml"
    )
    rows = {row["external_id"]: row for row in parsed.configuration_items.iter_rows(named=True)}
    assert set(rows) == {"CI-0001", "CI-0002", "CI-0003"}
    assert rows["CI-0002"]["ci_class"] == "database"
    assert rows["CI-0002"]["status"] == "in_service"
    assert json.loads(rows["CI-0003"]["attributes"]) == {"hostname": "web-01", "cpu_cores": 8}
    assert reasons(parsed) == {
        (5, "Business criticality", rejects.BAD_NUMBER),
        (6, "CI ID", rejects.MISSING_KEY),
    }


def test_generic_relationships(fixtures):
    parsed = csv_mapping.parse(
        fixtures / "ci_relationships.csv", mapping=fixtures / "ci_relationships.yaml"
    )
    assert parsed.ci_relationships.select(
        "ci_external_id", "relationship_type", "related_ci_external_id"
    ).rows() == [("CI-0001", "depends_on", "CI-0002"), ("CI-0001", "runs_on", "CI-0003")]
    assert reasons(parsed) == {
        (4, "type", rejects.UNKNOWN_VALUE),
        (5, "child", rejects.MISSING_KEY),
    }


def test_generic_changes_from_json(fixtures):
    parsed = csv_mapping.parse(fixtures / "changes.json", mapping=fixtures / "changes.yaml")
    patch = parsed.changes.filter(pl.col("external_id") == "CHG0030001").row(0, named=True)
    assert patch["affected_cis"] == ["CI-0002", "CI-0001"]
    assert patch["change_type"] == "normal"
    assert patch["planned_start"] == utc(2024, 3, 9, 22, 0)
    assert reasons(parsed) == {
        (3, "type", rejects.UNKNOWN_VALUE),
        (4, "start_date", rejects.BAD_DATE),
    }


def test_generic_csat_with_decimal_comma(fixtures):
    parsed = csv_mapping.parse(fixtures / "csat.csv", mapping=fixtures / "csat.yaml")
    assert parsed.csat.select("external_id", "rating").rows() == [
        ("I 2403 001", 4),  # "4,0"
        ("I 2403 003", 5),
    ]
    assert reasons(parsed) == {
        (4, "Score", rejects.UNKNOWN_VALUE),
        (5, "Score", rejects.BAD_NUMBER),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entity: tickets\nsource_system: x\ncolumns: {}\n", "entity must be one of"),
        ("entity: incidents\nsource_system: x\ncolumns: {external_id: id}\n", "required field"),
        ("entity: incidents\nsource_system: x\ncolumns: {colour: c}\n", "not a field"),
        (
            "entity: incidents\nsource_system: x\ncolumns: {external_id: a, state: b, "
            "opened_at: c}\nvalues: {state: {Open: opened}}\n",
            "not one of",
        ),
    ],
)
def test_generic_mapping_errors(tmp_path, fixtures, text, message):
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    with pytest.raises(MappingError, match=message):
        csv_mapping.parse(fixtures / "topdesk_incidents.csv", mapping=path)


def test_generic_file_without_the_mapped_columns_is_refused(fixtures, mappings):
    with pytest.raises(FormatError, match="missing column"):
        csv_mapping.parse(
            fixtures / "servicenow_audit.csv", mapping=mappings / "topdesk_incidents.yaml"
        )


# --- shared ---------------------------------------------------------------------------------


def test_dispatch_and_unknown_source(fixtures):
    parsed = sources.parse("servicenow-audit", fixtures / "servicenow_audit.csv")
    assert parsed.source == "servicenow-audit"
    with pytest.raises(UnknownSourceError):
        sources.parse("remedy", fixtures / "servicenow_audit.csv")
    with pytest.raises(MappingError):
        sources.parse("generic", fixtures / "topdesk_incidents.csv")


def test_rejects_reports(tmp_path, audit):
    csv_path = rejects.write_rejects_csv(audit.rejects, tmp_path / "rejects.csv")
    json_path = rejects.write_rejects_json(audit.rejects, tmp_path / "rejects.json")
    from_csv = pl.read_csv(csv_path)
    assert from_csv.columns == [
        "file",
        "line",
        "column",
        "reason",
        "value",
        "external_id",
        "detail",
    ]
    assert from_csv.height == 8
    reported = json.loads(json_path.read_text())
    assert {(item["line"], item["reason"]) for item in reported} >= {(17, "unknown_state")}


def test_generated_export_yields_the_promised_events(tmp_path):
    from sampledata.generate import write_servicenow_audit

    export = write_servicenow_audit(tmp_path / "audit.csv", events=2_000, seed=3)
    parsed = servicenow_audit.parse(export.path)
    assert parsed.events.height == export.events
    assert parsed.incidents.height == export.incidents
    assert parsed.rejected == 0
