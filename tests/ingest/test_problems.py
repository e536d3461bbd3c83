"""Problems from imports: ServiceNow's problem_id references, Jira's links to problem issues,
and a generic problems export, each becoming problem records and links on both sides."""

import json

from sqlalchemy import text

from ingest import loader, sources


def _rows(session, sql: str, **params):
    return session.execute(text(sql), params).all()


def _problem_links(session):
    return _rows(
        session,
        """
        select i.external_id, p.external_id, p.state from operational.incidents i
        join operational.problems p on p.id = i.problem_id order by i.number
        """,
    )


def test_a_servicenow_problem_reference_becomes_a_problem_and_a_link(session, fixtures):
    parsed = sources.parse("servicenow-table", fixtures / "servicenow_table.json")
    report = loader.load(parsed, engine=session.connection())
    [(incident_key, reference, state)] = _problem_links(session)
    assert (reference, state) == ("PRB0040010", "new")
    assert report.counts["problems"].loaded == 1
    assert report.counts["problem_links"].loaded == 1
    [(problem_id, number, title, opened_at, first_opened)] = _rows(
        session,
        """
        select p.id, p.number, p.title, p.opened_at, i.opened_at from operational.problems p
        join operational.incidents i on i.problem_id = p.id
        """,
    )
    assert number.startswith("PRB") and title == "PRB0040010" and opened_at == first_opened
    incident_side = _rows(
        session,
        """
        select e.new_value from operational.events e join operational.incidents i
          on e.entity_type = 'incident' and e.entity_id = i.id
        where i.external_id = :number and e.field = 'problem'
        """,
        number=incident_key,
    )
    assert incident_side == [(number,)]
    problem_side = _rows(
        session,
        "select kind, field, new_value from operational.events "
        "where entity_type = 'problem' and entity_id = :id order by seq",
        id=problem_id,
    )
    assert problem_side == [
        ("created", None, number),
        ("field_changed", "incident", _incident_number(session, incident_key)),
    ]

    # Importing again changes nothing: no new problem, link or event.
    events = session.scalar(text("select count(*) from operational.events"))
    again = loader.load(parsed, engine=session.connection())
    assert "problems" not in again.counts and "problem_links" not in again.counts
    assert session.scalar(text("select count(*) from operational.events")) == events


def _incident_number(session, external_id: str) -> str:
    return session.scalar(
        text("select number from operational.incidents where external_id = :id"),
        {"id": external_id},
    )


def _jira(tmp_path):
    def issue(key, kind, summary, status, created, links=(), resolved=None):
        return {
            "key": key,
            "fields": {
                "issuetype": {"name": kind},
                "summary": summary,
                "status": {"name": status},
                "priority": {"name": "High"},
                "created": created,
                "resolutiondate": resolved,
                "issuelinks": list(links),
            },
            "changelog": {"histories": []},
        }

    problem_link = {
        "type": {"name": "Problem/Incident", "inward": "is caused by", "outward": "causes"},
        "inwardIssue": {"key": "PRB-7", "fields": {"issuetype": {"name": "Problem"}}},
    }
    other_link = {
        "type": {"name": "Relates"},
        "outwardIssue": {"key": "OPS-2", "fields": {"issuetype": {"name": "Incident"}}},
    }
    document = {
        "issues": [
            issue("PRB-7", "Problem", "Payment gateway times out", "Completed",
                  "2024-02-01T09:00:00.000+0000", resolved="2024-02-05T17:00:00.000+0000"),
            issue("OPS-1", "Incident", "Checkout fails", "Resolved",
                  "2024-02-01T08:00:00.000+0000", links=[other_link, problem_link]),
            issue("OPS-2", "Incident", "Card payments slow", "Open",
                  "2024-02-02T08:00:00.000+0000", links=[other_link]),
        ]
    }  # fmt: skip
    path = tmp_path / "jira.json"
    path.write_text(json.dumps(document))
    return path


def test_jira_links_to_problem_issues_become_problems_and_links(session, tmp_path):
    parsed = sources.parse("jira", _jira(tmp_path))
    assert parsed.problems.get_column("external_id").to_list() == ["PRB-7"]
    assert parsed.skipped == 0  # problem issues are read, not skipped
    loader.load(parsed, engine=session.connection())
    assert [(number, ref) for number, ref, _ in _problem_links(session)] == [("OPS-1", "PRB-7")]
    [(title, state, resolved_at)] = _rows(
        session, "select title, state, resolved_at from operational.problems"
    )
    assert (title, state) == ("Payment gateway times out", "resolved")
    assert resolved_at.isoformat() == "2024-02-05T17:00:00+00:00"


def test_a_generic_problems_export_fills_the_problem_record(session, tmp_path):
    (tmp_path / "problems.csv").write_text(
        "id,title,state,service,cause,category,workaround,known,opened,cause_found,resolved\n"
        "P-1,VPN drops at noon,resolved,VPN,Firmware bug,software,Use the backup tunnel,true,"
        "2024-03-01 09:00:00,2024-03-03 12:00:00,2024-03-08 18:00:00\n"
    )
    (tmp_path / "problems.yaml").write_text(
        "entity: problems\nsource_system: helpdesk\ncolumns:\n  external_id: id\n  title: title\n"
        "  state: state\n  service: service\n  root_cause: cause\n  root_cause_category: category\n"
        "  workaround: workaround\n  known_error: known\n  opened_at: opened\n"
        "  root_cause_at: cause_found\n  resolved_at: resolved\n"
    )
    (tmp_path / "incidents.csv").write_text(
        "id,title,state,opened,problem\nH-1,VPN down,resolved,2024-03-01 08:00:00,P-1\n"
        "H-2,VPN down again,new,2024-03-02 08:00:00,P-1\n"
    )
    (tmp_path / "incidents.yaml").write_text(
        "entity: incidents\nsource_system: helpdesk\ncolumns:\n  external_id: id\n  title: title\n"
        "  state: state\n  opened_at: opened\n  problem_ref: problem\n"
    )
    for name in ("problems", "incidents"):
        parsed = sources.parse(
            "generic", tmp_path / f"{name}.csv", mapping=tmp_path / f"{name}.yaml"
        )
        assert parsed.rejected == 0, parsed.rejects
        loader.load(parsed, engine=session.connection())
    [row] = _rows(
        session,
        "select number, state, known_error, known_error_at, root_cause_at, priority "
        "from operational.problems",
    )
    assert row.state == "resolved" and row.known_error is True
    assert row.known_error_at == row.root_cause_at
    assert row.priority == 5  # impact and urgency unknown: low x low
    assert [(number, ref) for number, ref, _ in _problem_links(session)] == [
        ("H-1", "P-1"),
        ("H-2", "P-1"),
    ]
    states = _rows(
        session,
        "select e.new_value from operational.events e join operational.problems p "
        "on e.entity_type = 'problem' and e.entity_id = p.id where e.field = 'state'",
    )
    assert states == [("resolved",)]
