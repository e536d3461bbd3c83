"""``itsm ingest``, the inbox and the demo data, against real committed databases."""

import json
import shutil
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ingest import inbox, loader, sources
from operational.cli import app
from sampledata import demo

runner = CliRunner()


def count(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"select count(*) from operational.{table}")).scalar()


def test_itsm_ingest_prints_the_summary_and_writes_rejects(committed_engine, fixtures, tmp_path):
    result = runner.invoke(
        app,
        [
            "ingest",
            "servicenow-audit",
            str(fixtures / "servicenow_audit.csv"),
            "--rejects-dir",
            str(tmp_path),
            "--max-reject-rate",
            "50",  # the fixture holds a reject of each kind: 8 of its 24 rows
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Import summary" in result.output
    # read 24, loaded 3 incidents + 36 events (one marks INC0000050's history gap, where its 2
    # rejected rows were), rejected 8, skipped 1 duplicate update
    assert "│   24 │     39 │       0 │        8 │       1 │" in result.output
    assert count(committed_engine, "incidents") == 3
    rejected = (tmp_path / "servicenow_audit.csv.rejects.csv").read_text().splitlines()
    assert len(rejected) == 1 + 8


def test_itsm_ingest_dry_run_writes_nothing(committed_engine, fixtures, tmp_path):
    result = runner.invoke(
        app,
        [
            "ingest",
            "generic",
            str(fixtures / "topdesk_incidents.csv"),
            "--mapping",
            str(fixtures.parent.parent.parent / "docs/mappings/topdesk_incidents.yaml"),
            "--dry-run",
            "--rejects-dir",
            str(tmp_path),
            "--max-reject-rate",
            "70",  # 5 of its 8 rows are rejects on purpose
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Dry run (nothing written)" in result.output
    assert count(committed_engine, "incidents") == 0
    assert count(committed_engine, "import_runs") == 0


def test_itsm_ingest_refuses_the_wrong_format(committed_engine, fixtures):
    result = runner.invoke(app, ["ingest", "jira", str(fixtures / "servicenow_audit.csv")])
    assert result.exit_code == 2
    assert "Nothing imported" in result.output
    assert count(committed_engine, "import_runs") == 0


def test_inbox_imports_and_moves_files_aside(committed_engine, fixtures, tmp_path):
    audit_folder = tmp_path / "inbox" / "servicenow-audit"
    jira_folder = tmp_path / "inbox" / "jira"
    audit_folder.mkdir(parents=True)
    jira_folder.mkdir(parents=True)
    shutil.copy(fixtures / "servicenow_audit.csv", audit_folder / "week-12.csv")
    shutil.copy(fixtures / "servicenow_audit.csv", jira_folder / "not-jira.json")

    results = {result.source: result for result in inbox.process_inbox(tmp_path)}

    imported = results["servicenow-audit"]
    assert imported.succeeded
    assert imported.file.parent == audit_folder / "processed"
    report = json.loads(imported.report.read_text())
    assert report["summary"]["loaded"] == 39
    assert not (audit_folder / "week-12.csv").exists()
    assert list((audit_folder / "processed").rglob("*.rejects.csv"))
    failed = results["jira"]
    assert not failed.succeeded
    assert failed.file.parent == jira_folder / "failed"
    assert "not a Jira search API response" in json.loads(failed.report.read_text())["error"]
    assert count(committed_engine, "incidents") == 3
    assert inbox.process_inbox(tmp_path) == []  # nothing left to do


def test_demo_export_is_seeded_and_imports_without_rejects(tmp_path):
    last_day = date(2024, 3, 31)
    first = demo.write_demo_export(tmp_path / "a", seed=7, incidents=400, end_date=last_day)
    second = demo.write_demo_export(tmp_path / "b", seed=7, incidents=400, end_date=last_day)
    for data_file, _ in demo.IMPORT_ORDER:
        assert (first.directory / data_file).read_bytes() == (
            second.directory / data_file
        ).read_bytes()
    for data_file, mapping_file in demo.IMPORT_ORDER:
        parsed = sources.parse(
            "generic", first.directory / data_file, mapping=first.directory / mapping_file
        )
        assert parsed.rejected == 0, parsed.rejects.head(3).to_dicts()
    incidents = sources.parse(
        "generic",
        first.directory / "incidents.csv",
        mapping=first.directory / "incidents.mapping.yaml",
    )
    states = set(incidents.incidents.get_column("state"))
    assert {"closed", "resolved"} <= states
    reopened = incidents.events.filter(
        (incidents.events["kind"] == "state_changed")
        & incidents.events["old_value"].is_in(["resolved", "closed"])
    )
    assert reopened.height > 0
    assert len(set(incidents.incidents.get_column("assignment_group"))) == 8
    opened = incidents.incidents.get_column("opened_at")
    assert (first.first_day, first.last_day) == (date(2023, 4, 2), last_day)
    assert opened.min().date() >= first.first_day and opened.max().date() <= last_day
    # Most of the history is in the last quarter too, not only at the start.
    assert opened.filter(opened.dt.date() > date(2024, 1, 1)).len() > 60


def test_demo_year_ends_yesterday_by_default(tmp_path):
    export = demo.write_demo_export(tmp_path, seed=1, incidents=50, days=30)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert (export.first_day, export.last_day) == (yesterday - timedelta(days=29), yesterday)


def scalar(session, sql: str):
    return session.execute(text(sql)).scalar()


@pytest.mark.slow
def test_demo_data_is_served_by_the_api(session, client, headers_for, tmp_path):
    export = demo.write_demo_export(tmp_path, seed=3, incidents=600)
    for data_file, mapping_file in demo.IMPORT_ORDER:
        parsed = sources.parse(
            "generic", export.directory / data_file, mapping=export.directory / mapping_file
        )
        report = loader.load(parsed, engine=session.connection())
        assert report.rejected == 0, data_file
    response = client.get("/api/v1/incidents", params={"size": 5}, headers=headers_for("agent"))
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 600
    assert {item["source_system"] for item in page["items"]} == {"demo"}
    assert all(item["sla_timers"] for item in page["items"])
    breached = scalar(
        session, "select count(*) from operational.sla_timers where state = 'breached'"
    )
    assert 0 < breached < 600

    # The CMDB and the change history with its CAB decisions.
    assert scalar(session, "select count(*) from operational.configuration_items") == 300
    assert scalar(session, "select count(*) from operational.ci_relationships") > 300
    outcomes = dict(
        session.execute(
            text("select state, count(*) from operational.changes group by state")
        ).all()
    )
    assert outcomes["closed"] > 200 and outcomes["failed"] > 0 and outcomes["backed_out"] > 0
    assert scalar(session, "select count(*) from operational.change_approvals") == (
        export.change_approvals
    )
    assert scalar(
        session, "select count(*) from operational.events where kind = 'approval_decided'"
    ) == (export.change_approvals)
    # Every decision is by a user holding change:approve, never the change's requester.
    assert not scalar(
        session,
        """
        select count(*) from operational.change_approvals a
        join operational.changes c on c.id = a.change_id
        where a.approver_id = c.requester_id or not exists (
            select 1 from operational.user_roles r
            where r.user_id = a.approver_id and r.role in ('admin', 'manager'))
        """,
    )
    # Implemented changes that need the CAB were authorized by it before they began, and
    # emergency changes were reviewed in retrospect before they closed.
    unauthorized = scalar(
        session,
        """
        select count(*) from operational.changes c
        where c.actual_start is not null and c.change_type <> 'standard' and not exists (
            select 1 from operational.events e
            where e.entity_type = 'change' and e.entity_id = c.id and e.field = 'cab_outcome'
              and e.new_value = 'approved' and e.data ->> 'stage' = 'authorization'
              and e.occurred_at <= c.actual_start)
        """,
    )
    unreviewed = scalar(
        session,
        """
        select count(*) from operational.changes c
        where c.change_type = 'emergency' and c.review_outcome is not null
          and not (c.cab_stage = 'retrospective' and c.cab_outcome = 'approved')
        """,
    )
    assert (unauthorized, unreviewed) == (0, 0)
    rejected = scalar(
        session, "select count(*) from operational.changes where cab_outcome = 'rejected'"
    )
    assert rejected > 0
    caused = scalar(
        session,
        """
        select count(*) from operational.incidents i
        join operational.changes c on c.id = i.caused_by_change_id
        where c.review_caused_incidents and i.opened_at > c.actual_start
        """,
    )
    assert caused > 0
    assert scalar(
        session, "select count(*) from operational.incidents where caused_by_change_id is not null"
    ) == (caused)
    answered = scalar(
        session, "select count(*) from operational.csat_surveys where answered_at is not null"
    )
    assert answered == export.csat_answers
    assert (
        scalar(session, "select count(*) from operational.events where kind = 'csat_answered'")
        == answered
    )

    change_id = scalar(
        session,
        "select min(id) from operational.changes where change_type = 'normal' and state = 'closed'",
    )
    shown = client.get(f"/api/v1/changes/{change_id}", headers=headers_for("manager")).json()
    assert shown["cab_outcome"] == "approved"
    last_round = [item for item in shown["approvals"] if item["round"] == shown["cab_round"]]
    assert sum(item["decision"] == "approved" for item in last_round) == 2  # quorum 2


@pytest.mark.slow
def test_demo_has_problems_and_a_knowledge_base_its_incidents_use(
    session, client, headers_for, tmp_path
):
    from sampledata.knowledge import seed_knowledge

    export = demo.write_demo_export(tmp_path, seed=5, incidents=1500)
    for data_file, mapping_file in demo.IMPORT_ORDER:
        parsed = sources.parse(
            "generic", export.directory / data_file, mapping=export.directory / mapping_file
        )
        assert loader.load(parsed, engine=session.connection()).rejected == 0, data_file
    assert scalar(session, "select count(*) from operational.problems") == export.problems == 3
    states = dict(
        session.execute(
            text("select known_error, count(*) from operational.problems group by 1")
        ).all()
    )
    assert states[True] > 0
    # Each problem gathers incidents of one category on one CI.
    assert not scalar(
        session,
        """
        select count(*) from (select problem_id from operational.incidents
        where problem_id is not null group by problem_id
        having count(distinct category) > 1 or count(distinct ci_id) > 1) spread
        """,
    )
    assert (
        scalar(session, "select count(*) from operational.incidents where problem_id is not null")
        > 8
    )

    knowledge = seed_knowledge(session, seed=5)
    assert knowledge.articles == 100 and knowledge.versions > knowledge.articles - 5
    assert knowledge.uses > 50 and knowledge.retired > 0
    assert seed_knowledge(session, seed=5).articles == 0  # once only
    agent = headers_for("agent")
    found = client.get("/api/v1/knowledge/search", params={"q": "slow"}, headers=agent).json()
    assert found["total"] > 0 and "<mark>" in (found["items"][0]["snippet"] or "<mark>")
    created = client.post(
        "/api/v1/incidents", json={"title": "VPN: not working"}, headers=agent
    ).json()
    assert created["suggestions"][0]["title"].startswith("VPN")
    used = scalar(session, "select count(*) from operational.events where kind = 'article_used'")
    assert used == 2 * knowledge.uses  # on the article and on the incident
