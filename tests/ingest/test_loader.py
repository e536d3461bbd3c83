"""Loading into PostgreSQL: first-class tickets, idempotence, increments, crashes, SLA backfill."""

import os
import subprocess
import sys
import types
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, pool, text

from ingest import loader, sources
from sampledata.generate import write_servicenow_audit


def scalar(bind, sql: str, **params):
    return bind.execute(text(sql), params).scalar()


def incident_id(bind, external_id: str) -> int:
    return scalar(
        bind, "select id from operational.incidents where external_id = :e", e=external_id
    )


def imported_events(bind, external_id: str) -> list[tuple]:
    return [
        tuple(row)
        for row in bind.execute(
            text(
                """
                select e.kind, e.field, e.old_value, e.new_value
                from operational.events e join operational.incidents i on i.id = e.entity_id
                where e.entity_type = 'incident' and i.external_id = :e
                  and e.kind not like 'sla%' order by e.seq
                """
            ),
            {"e": external_id},
        )
    ]


@pytest.fixture
def audit(fixtures):
    return sources.parse("servicenow-audit", fixtures / "servicenow_audit.csv")


def test_imported_tickets_are_first_class_in_the_api(session, client, headers_for, audit):
    report = loader.load(audit, engine=session.connection())
    # 3 incidents and 36 events, one of them INC0000050's history gap (its 2 rejected rows).
    assert report.summary() == {"read": 24, "loaded": 39, "updated": 0, "rejected": 8, "skipped": 1}

    number = incident_id(session, "INC0000045")
    response = client.get(f"/api/v1/incidents/{number}", headers=headers_for("agent"))
    assert response.status_code == 200
    body = response.json()
    assert (body["source_system"], body["external_id"]) == ("servicenow", "INC0000045")
    assert body["state"] == "closed"
    assert body["number"].startswith("INC")  # a native number; the source's stays external
    assert body["assignee"]["display_name"] == "Resolver 31"
    assert body["assignment_group"]["name"] == "Group 24"
    assert body["acknowledged_at"].startswith("2016-02-29T01:29")
    assert body["reopen_count"] == 1

    timeline = client.get(f"/api/v1/incidents/{number}/timeline", headers=headers_for("agent"))
    kinds = [event["kind"] for event in timeline.json() if not event["kind"].startswith("sla")]
    assert kinds[:3] == ["created", "assigned", "state_changed"]
    assert len(kinds) == 17


def test_sla_timers_are_backfilled_from_the_history(session, client, headers_for, audit):
    loader.load(audit, engine=session.connection())
    timers = {
        (row.external_id, row.target): row
        for row in session.execute(
            text(
                """
                select i.external_id, t.target, t.state, t.elapsed_minutes
                from operational.sla_timers t join operational.incidents i on i.id = t.incident_id
                """
            )
        )
    }
    # P3 (24x7): response 120 min, resolution 1440 min.
    assert timers[("INC0000045", "response")].state == "met"
    assert timers[("INC0000045", "response")].elapsed_minutes == 13  # 1:16 -> 1:29
    assert timers[("INC0000050", "response")].elapsed_minutes == 7  # 7:03 -> 7:10
    # first resolution 1/3 11:29, 34 h 13 min after opening
    assert timers[("INC0000045", "resolution")].state == "breached"
    shown = client.get(
        f"/api/v1/incidents/{incident_id(session, 'INC0000045')}", headers=headers_for("agent")
    ).json()["sla_timers"]
    assert {timer["target"] for timer in shown} == {"response", "resolution"}


def test_reimporting_the_same_file_changes_nothing(session, audit):
    bind = session.connection()
    loader.load(audit, engine=bind)
    events = scalar(session, "select count(*) from operational.events")
    versions = scalar(session, "select sum(version) from operational.incidents")
    again = loader.load(audit, engine=bind)
    assert (again.loaded, again.updated) == (0, 0)
    assert again.counts["events"].unchanged == 36
    assert scalar(session, "select count(*) from operational.events") == events
    assert scalar(session, "select sum(version) from operational.incidents") == versions
    runs = session.execute(
        text("select status, loaded from operational.import_runs order by id")
    ).all()
    assert [tuple(run) for run in runs] == [("succeeded", 39), ("succeeded", 0)]


def test_a_later_export_adds_only_what_is_new(session, tmp_path, fixtures):
    bind = session.connection()
    lines = (fixtures / "servicenow_audit.csv").read_text().splitlines(keepends=True)
    earlier = tmp_path / "earlier.csv"
    earlier.write_text("".join(lines[:6]))  # INC0000045 up to its first assignment to Group 24
    first = loader.load(sources.parse("servicenow-audit", earlier), engine=bind)
    assert first.counts["incidents"].loaded == 1
    assert scalar(session, "select state from operational.incidents") == "in_progress"

    later = loader.load(
        sources.parse("servicenow-audit", fixtures / "servicenow_audit.csv"), engine=bind
    )
    assert later.counts["incidents"].updated == 1  # INC0000045 moved on
    assert later.counts["incidents"].loaded == 2
    assert later.counts["events"].loaded == 36 - 11  # the 11 earlier events are not repeated
    one_shot = sources.parse("servicenow-audit", fixtures / "servicenow_audit.csv").events
    expected = [
        (row["kind"], row["field"], row["old_value"], row["new_value"])
        for row in one_shot.filter(pl.col("external_id") == "INC0000045").iter_rows(named=True)
    ]
    assert imported_events(session, "INC0000045") == expected
    seqs = session.execute(
        text(
            "select seq from operational.events where entity_type = 'incident' "
            "and entity_id = :i order by seq"
        ),
        {"i": incident_id(session, "INC0000045")},
    ).scalars()
    seqs = list(seqs)
    assert seqs == list(range(1, len(seqs) + 1))  # SLA events in between, no gaps


def test_dry_run_writes_nothing(session, audit):
    report = loader.load(audit, engine=session.connection(), dry_run=True)
    assert report.loaded == 39
    assert scalar(session, "select count(*) from operational.incidents") == 0
    assert scalar(session, "select count(*) from operational.import_runs") == 0


def test_batches_with_sla_timers_are_cut_to_four_per_worker_within_bounds():
    # 300,000 events on two workers: eight batches of 37,500, not three of 100,000.
    assert loader.sla_batch_events(100_000, 300_000, 2) == 37_500
    assert loader.sla_batch_events(100_000, 223_439, 2) == 27_930
    # Large imports keep the asked size; small ones stop at the floor.
    assert loader.sla_batch_events(100_000, 1_000_000, 2) == 100_000
    assert loader.sla_batch_events(100_000, 20_000, 2) == 10_000
    assert loader.sla_batch_events(5_000, 20_000, 2) == 5_000


class Crash(Exception):
    pass


def test_crash_mid_import_leaves_whole_batches_and_a_rerun_completes(fresh_database, tmp_path):
    engine = create_engine(fresh_database("crash"), poolclass=pool.NullPool)
    export = write_servicenow_audit(tmp_path / "audit.csv", events=3_000, seed=11)
    parsed = sources.parse("servicenow-audit", export.path)
    batches = list(loader.ticket_batches(parsed.incidents, parsed.events, 500))
    assert len(batches) >= 5

    def crash_at_third(number: int) -> None:
        if number == 3:
            raise Crash

    with pytest.raises(Crash):
        loader.load(parsed, engine=engine, batch_events=500, before_batch=crash_at_third)
    with engine.connect() as connection:
        whole = sum(incidents.height for incidents, _ in batches[:2])
        assert scalar(connection, "select count(*) from operational.incidents") == whole
        assert scalar(connection, "select status from operational.import_runs") == "failed"

    report = loader.load(parsed, engine=engine, batch_events=500)
    assert report.counts["incidents"].loaded == parsed.incidents.height - whole
    with engine.connect() as connection:
        assert scalar(connection, "select count(*) from operational.incidents") == export.incidents
        imported = scalar(
            connection,
            "select count(*) from operational.events where data ? 'import_seq'",
        )
        distinct = scalar(
            connection,
            "select count(distinct (entity_id, data->>'import_seq')) from operational.events "
            "where data ? 'import_seq'",
        )
    assert imported == distinct == export.events
    engine.dispose()


def _imported_content(url: str) -> list[tuple]:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                """
                select i.external_id, i.state, i.priority, assignee.external_id,
                       team.name, i.acknowledged_at, e.seq, e.kind, e.field,
                       e.old_value, e.new_value, e.data
                from operational.incidents i
                left join operational.users assignee on assignee.id = i.assignee_id
                left join operational.teams team on team.id = i.assignment_group_id
                join operational.events e
                  on e.entity_type = 'incident' and e.entity_id = i.id
                order by i.external_id, e.seq
                """
            )
        )
        content = [tuple(row) for row in rows]
    engine.dispose()
    return content


def test_parallel_batches_load_what_one_process_loads(fresh_database, tmp_path):
    export = write_servicenow_audit(tmp_path / "audit.csv", events=4_000, seed=5)
    parsed = sources.parse("servicenow-audit", export.path)
    one_process = fresh_database("workers1")
    engine = create_engine(one_process, poolclass=pool.NullPool)
    report = loader.load(parsed, engine=engine, batch_events=700, workers=1)
    engine.dispose()
    assert report.batches > 3 and report.workers == 1

    # Worker processes need the program's own main module, which a pytest-xdist worker lacks:
    # the parallel load runs as users run it, through the `itsm` command.
    two_processes = fresh_database("workers2")
    completed = subprocess.run(
        [Path(sys.executable).with_name("itsm"), "ingest", "servicenow-audit", export.path,
         "--workers", "2", "--batch-events", "700"],
        env={**os.environ, "ITSM_DATABASE_URL": two_processes, "COLUMNS": "200"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "ticket batches in 2 processes" in completed.stdout

    content = _imported_content(one_process)
    assert len(content) > export.events  # the imported events and the SLA transitions
    assert content == _imported_content(two_processes)


def test_a_host_that_swaps_the_main_module_keeps_the_load_in_one_process(monkeypatch, tmp_path):
    # Streamlit's script runner (and AppTest) puts the page it runs in sys.modules["__main__"]:
    # worker processes would run that page. The loader must notice and stay in one process.
    page = tmp_path / "page.py"
    page.write_text("raise SystemExit('a worker ran the page')\n")
    swapped = types.ModuleType("__main__")
    swapped.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", swapped)
    monkeypatch.setattr(sys, "argv", [str(Path(sys.executable).with_name("itsm"))])
    assert not loader.workers_possible()
    assert loader.default_workers() == 1


def test_servicenow_table_import(session, fixtures):
    parsed = sources.parse("servicenow-table", fixtures / "servicenow_table.json")
    report = loader.load(parsed, engine=session.connection())
    assert report.counts["incidents"].loaded == 4
    synthesized = scalar(
        session,
        "select bool_and(synthesized) from operational.events where data ? 'import_seq'",
    )
    assert synthesized is True
    hold = session.execute(
        text("select state, hold_reason from operational.incidents where external_id = :e"),
        {"e": "INC0010002"},
    ).one()
    assert tuple(hold) == ("on_hold", "awaiting_caller")


def test_jira_import_with_comments(session, fixtures):
    parsed = sources.parse(
        "jira", fixtures / "jira_search.json", mapping=fixtures / "jira_mapping.yaml"
    )
    loader.load(parsed, engine=session.connection())
    comments = session.execute(
        text(
            "select is_public, body from operational.incident_comments c "
            "join operational.incidents i on i.id = c.incident_id order by c.created_at"
        )
    ).all()
    assert [tuple(row) for row in comments] == [
        (True, "Looking into it."),
        (False, "Upstream pool exhausted."),
    ]
    team = scalar(
        session,
        "select t.name from operational.incidents i join operational.teams t "
        "on t.id = i.first_assignment_group_id where i.external_id = 'OPS-101'",
    )
    assert team == "Service Desk"


def test_generic_cmdb_changes_and_csat(session, fixtures, mappings):
    bind = session.connection()
    cis = sources.parse(
        "generic", fixtures / "cmdb_cis.csv", mapping=mappings / "cmdb_configuration_items.yaml"
    )
    assert loader.load(cis, engine=bind).counts["configuration_items"].loaded == 3
    relationships = sources.parse(
        "generic", fixtures / "ci_relationships.csv", mapping=fixtures / "ci_relationships.yaml"
    )
    assert loader.load(relationships, engine=bind).counts["ci_relationships"].loaded == 2
    changes = sources.parse("generic", fixtures / "changes.json", mapping=fixtures / "changes.yaml")
    assert loader.load(changes, engine=bind).counts["changes"].loaded == 2
    linked = session.execute(
        text(
            "select ci.name from operational.change_cis link "
            "join operational.changes c on c.id = link.change_id "
            "join operational.configuration_items ci on ci.id = link.ci_id "
            "where c.external_id = 'CHG0030001' order by ci.name"
        )
    ).scalars()
    assert list(linked) == ["crm-app", "crm-db-01"]

    incidents = sources.parse(
        "generic",
        fixtures / "topdesk_incidents.csv",
        mapping=mappings / "topdesk_incidents.yaml",
    )
    loader.load(incidents, engine=bind)
    linked_ci = scalar(
        session,
        "select c.name from operational.incidents i join operational.configuration_items c "
        "on c.id = i.ci_id where i.external_id = 'I 2403 003'",
    )
    assert linked_ci == "web-01"  # the CI label of the export, matched by name
    csat = sources.parse("generic", fixtures / "csat.csv", mapping=fixtures / "csat.yaml")
    first = loader.load(csat, engine=bind)
    assert first.counts["csat"].loaded == 2
    assert loader.load(csat, engine=bind).counts["csat"].loaded == 0
    ratings = session.execute(
        text(
            "select i.external_id, s.rating from operational.csat_surveys s "
            "join operational.incidents i on i.id = s.incident_id order by 1"
        )
    ).all()
    assert [tuple(row) for row in ratings] == [("I 2403 001", 4), ("I 2403 003", 5)]


def csat_events(session) -> list[tuple]:
    return [
        tuple(row)
        for row in session.execute(
            text(
                """
                select i.external_id, e.occurred_at::text, e.actor_label, e.new_value,
                       e.data ->> 'comment', e.seq = max(e.seq) over (partition by e.entity_id)
                from operational.events e join operational.incidents i on i.id = e.entity_id
                where e.entity_type = 'incident' and e.kind = 'csat_answered' order by 1
                """
            )
        )
    ]


def test_imported_csat_answers_are_in_the_event_log(session, fixtures, mappings):
    bind = session.connection()
    incidents = sources.parse(
        "generic",
        fixtures / "topdesk_incidents.csv",
        mapping=mappings / "topdesk_incidents.yaml",
    )
    loader.load(incidents, engine=bind)
    csat = sources.parse("generic", fixtures / "csat.csv", mapping=fixtures / "csat.yaml")
    loader.load(csat, engine=bind)
    # Amsterdam times (CET in March); appended last to each incident's log (after SLA events)
    expected = [
        ("I 2403 001", "2024-03-08 09:15:00+00", "Jan de Vries", "4", "Quick, thanks", True),
        ("I 2403 003", "2024-03-07 08:00:00+00", "Marieke Smit", "5", None, True),
    ]
    assert csat_events(session) == expected
    loader.load(csat, engine=bind)
    assert csat_events(session) == expected
