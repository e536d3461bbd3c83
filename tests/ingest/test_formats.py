"""Exports as people have them: date formats read from the file, spreadsheet booleans, the reject
rate that fails a run, and holds whose reason comes from a state map."""

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from ingest import dates, loader, parsing, sources
from ingest.sources import csv_mapping
from operational.cli import app

runner = CliRunner()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "first", "expected"),
    [
        (["03-02-2016 09:05", "25-02-2016 14:00"], "%d-%m-%Y", utc(2016, 2, 3, 9, 5)),
        (["02/03/2016 09:05", "02/29/2016 14:00"], "%m/%d/%Y", utc(2016, 2, 3, 9, 5)),
        (["03.02.2016 09:05:30", "29.02.2016 14:00:00"], "%d.%m.%Y", utc(2016, 2, 3, 9, 5, 30)),
        (["2016-02-03 09:05", "2016-02-29 14:00:00"], "%Y-%m-%d", utc(2016, 2, 3, 9, 5)),
        (["3/2/2016 9:05", "29/2/2016 14:00"], "%d/%m/%Y", utc(2016, 2, 3, 9, 5)),
    ],
)
def test_the_date_format_is_read_from_the_values(values, first, expected):
    formats = dates.detect(pl.Series(values))
    assert formats[0].startswith(first)
    parsed = pl.DataFrame({"v": values}).select(parsing.timestamp(pl.col("v"), formats))
    assert parsed.item(0, 0) == expected
    assert parsed.to_series().null_count() == 0


def test_only_a_truly_ambiguous_file_is_refused():
    with pytest.raises(dates.AmbiguousDateFormat, match="--date-format"):
        dates.detect(pl.Series(["02/03/2016 09:05", "04/05/2016 10:00"]))
    # The same day and month either way: nothing to decide.
    assert dates.detect(pl.Series(["01/01/2016 09:05", "03/03/2016"]))[0].startswith("%d/%m/%Y")
    # ISO 8601 with an offset is read in any file.
    formats = dates.detect(pl.Series(["2016-03-01T09:00:00.000+0100"]))
    frame = pl.DataFrame({"v": ["2016-03-01T09:00:00.000+0100"]})
    assert frame.select(parsing.timestamp(pl.col("v"), formats)).item() == utc(2016, 3, 1, 8)


def test_a_user_format_in_servicenow_spelling():
    formats = dates.from_user("MM/dd/yyyy HH:mm")
    frame = pl.DataFrame({"v": ["02/03/2016 09:05", "02/03/2016 09:05:07"]})
    assert frame.select(parsing.timestamp(pl.col("v"), formats)).to_series().to_list() == [
        utc(2016, 2, 3, 9, 5),
        utc(2016, 2, 3, 9, 5, 7),
    ]


def test_spreadsheet_booleans():
    spellings = ["TRUE", "FALSE", "true", "false", "Yes", "no", "1", "0", "Y", "n", "maybe"]
    frame = pl.DataFrame({"v": spellings}).select(parsing.boolean(pl.col("v")))
    assert frame.to_series().to_list() == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        None,
    ]


def test_a_servicenow_log_in_dd_mm_yyyy_hh_mm_loads_every_row(fixtures):
    parsed = sources.parse(
        "servicenow-audit", fixtures / "formats" / "servicenow_audit_dd-MM-yyyy.csv"
    )
    assert parsed.rejected == 0
    first = parsed.incidents.filter(pl.col("external_id") == "INC0100001").row(0, named=True)
    assert first["opened_at"] == utc(2016, 2, 3, 9, 5)
    assert first["resolved_at"] == utc(2016, 2, 25, 14)
    assert first["source_made_sla"] is True  # TRUE
    second = parsed.incidents.filter(pl.col("external_id") == "INC0100002").row(0, named=True)
    assert second["source_made_sla"] is False  # FALSE, then "no"


def test_an_ambiguous_servicenow_log_is_refused_naming_the_option(committed_engine, fixtures):
    path = fixtures / "formats" / "servicenow_audit_MM-dd-yyyy_ambiguous.csv"
    result = runner.invoke(app, ["ingest", "servicenow-audit", str(path)])
    assert result.exit_code == 2, result.output
    assert "Nothing imported" in result.output and "--date-format" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(
        app, ["ingest", "servicenow-audit", str(path), "--date-format", "MM/dd/yyyy HH:mm"]
    )
    assert result.exit_code == 0, result.output
    with committed_engine.connect() as connection:
        opened, resolved = connection.execute(
            text(
                "select opened_at, resolved_at from operational.incidents "
                "where external_id = 'INC0200001'"
            )
        ).one()
    assert (opened, resolved) == (utc(2016, 2, 3, 9, 5), utc(2016, 2, 4, 11))


def test_a_run_that_rejects_everything_fails_before_the_rejects_report(
    committed_engine, fixtures, tmp_path
):
    # Read month-first, the day-first file's 25-02-2016 is no date: 1 row of 5 rejected.
    path = tmp_path / "log.csv"
    path.write_text((fixtures / "formats" / "servicenow_audit_dd-MM-yyyy.csv").read_text())
    result = runner.invoke(
        app, ["ingest", "servicenow-audit", str(path), "--date-format", "MM-dd-yyyy HH:mm"]
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    reason = next(index for index, line in enumerate(lines) if "Nothing imported" in line)
    report = next(index for index, line in enumerate(lines) if "Rejected rows:" in line)
    assert reason < report
    assert "more than --max-reject-rate 5%" in lines[reason]
    assert "bad_date" in lines[reason]
    assert (tmp_path / "log.csv.rejects.csv").exists()
    with committed_engine.connect() as connection:
        assert connection.execute(text("select count(*) from operational.incidents")).scalar() == 0

    # Everything rejected fails whatever the rate allows.
    everything = tmp_path / "all.csv"
    header, *rows = path.read_text().splitlines()
    bogus = [",".join([row.split(",")[0], "-100", *row.split(",")[2:]]) for row in rows]
    everything.write_text("\n".join([header, *bogus]))
    result = runner.invoke(
        app, ["ingest", "servicenow-audit", str(everything), "--max-reject-rate", "100"]
    )
    assert result.exit_code == 1, result.output
    assert "5 of 5 rows rejected (100.0%, every row)" in result.output


# --- Holds survive import ------------------------------------------------------------------

MAPPING = {
    "entity": "incidents",
    "source_system": "holds",
    "columns": {
        "external_id": "id",
        "title": "subject",
        "priority": "priority",
        "state": "status",
        "opened_at": "created",
        "resolved_at": "solved",
    },
    "values": {
        "state": {
            "new": "new",
            "open": "in_progress",
            "on_hold": "on_hold",
            "pending": {"state": "on_hold", "hold_reason": "awaiting_caller"},
            "solved": "resolved",
        }
    },
    "history": {
        "path": "activity.csv",
        "columns": {
            "external_id": "ticket",
            "occurred_at": "at",
            "kind": "action",
            "field": "field",
            "old_value": "from",
            "new_value": "to",
        },
        "values": {
            "kind": {"create": "created", "status": "state_changed", "set": "field_changed"}
        },
    },
}


def _hold_export(folder, *, reason_as_event: bool):
    (folder / "tickets.csv").write_text(
        "id,subject,priority,status,created,solved\n"
        "H-1,Printer,1,solved,2024-05-06 09:00,2024-05-06 15:00\n"
    )
    rows = [
        "ticket,at,action,field,from,to",
        "H-1,2024-05-06 09:00,create,,,H-1",
        "H-1,2024-05-06 09:00,status,state,new,open",
        "H-1,2024-05-06 10:00,status,state,open,pending",
        "H-1,2024-05-06 14:00,status,state,pending,open",
        "H-1,2024-05-06 15:00,status,state,open,solved",
    ]
    if reason_as_event:  # the other form: the reason as its own event, the state plain
        rows[3] = "H-1,2024-05-06 10:00,status,state,open,on_hold"
        rows[4] = "H-1,2024-05-06 14:00,status,state,on_hold,open"
        rows.insert(4, "H-1,2024-05-06 10:00,set,hold_reason,,awaiting_caller")
        rows.insert(6, "H-1,2024-05-06 14:00,set,hold_reason,awaiting_caller,")
    (folder / "activity.csv").write_text("\n".join(rows) + "\n")
    mapping = csv_mapping.GenericMapping.from_dict(MAPPING)
    return csv_mapping.parse(folder / "tickets.csv", mapping=mapping)


def test_a_state_map_with_a_hold_reason_reaches_the_events(tmp_path):
    parsed = _hold_export(tmp_path, reason_as_event=False)
    assert parsed.rejected == 0
    events = [
        (row["kind"], row["field"], row["old_value"], row["new_value"])
        for row in parsed.events.sort("seq").iter_rows(named=True)
    ]
    assert events[1:6] == [
        ("state_changed", "state", "new", "in_progress"),
        ("state_changed", "state", "in_progress", "on_hold"),
        ("field_changed", "hold_reason", None, "awaiting_caller"),
        ("state_changed", "state", "on_hold", "in_progress"),
        ("field_changed", "hold_reason", "awaiting_caller", None),
    ]


@pytest.mark.parametrize("reason_as_event", [False, True])
def test_a_hold_from_a_state_map_pauses_the_resolution_clock(session, tmp_path, reason_as_event):
    """P1: resolution 240 business minutes of the 24x7 calendar, pausing while awaiting the
    caller. Opened 09:00, on hold 10:00-14:00, resolved 15:00: 60 + 60 = 120 minutes elapsed,
    240 paused, met (360 elapsed and breached if the hold did not pause the clock)."""
    parsed = _hold_export(tmp_path, reason_as_event=reason_as_event)
    loader.load(parsed, engine=session.connection())
    timer = session.execute(
        text(
            "select t.state, t.elapsed_minutes, t.paused_minutes from operational.sla_timers t "
            "join operational.incidents i on i.id = t.incident_id "
            "where i.external_id = 'H-1' and t.target = 'resolution'"
        )
    ).one()
    assert tuple(timer) == ("met", 120, 240)


@pytest.mark.parametrize(
    ("source", "name", "ticket", "reason"),
    [
        ("servicenow-audit", "servicenow_audit.csv", "INC0000050", "awaiting_vendor"),
        ("servicenow-table", "servicenow_table.json", "INC0010002", "awaiting_caller"),
    ],
)
def test_every_source_carries_the_hold_reason(fixtures, source, name, ticket, reason):
    parsed = sources.parse(source, fixtures / name)
    events = parsed.events.filter(pl.col("external_id") == ticket).sort("seq")
    holds = events.filter(pl.col("field") == "hold_reason").get_column("new_value").to_list()
    assert reason in holds


def test_jira_carries_the_hold_reason_of_its_status_map(fixtures):
    parsed = sources.parse(
        "jira", fixtures / "jira_search.json", mapping=fixtures / "jira_mapping.yaml"
    )
    holds = parsed.events.filter(pl.col("field") == "hold_reason")
    assert "awaiting_caller" in holds.get_column("new_value").to_list()


@pytest.fixture
def inbox_settings(monkeypatch):
    """Set ITSM_* variables for the inbox's run; the settings are read afresh and restored."""
    from operational.core.config import get_settings

    def configure(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield configure
    get_settings.cache_clear()


def _drop_in_inbox(home, source: str, fixture) -> None:
    folder = home / "inbox" / source
    folder.mkdir(parents=True)
    (folder / fixture.name).write_text(fixture.read_text())


def test_the_inbox_reads_an_ambiguous_file_in_the_configured_date_format(
    committed_engine, fixtures, tmp_path, inbox_settings
):
    from ingest import inbox

    fixture = fixtures / "formats" / "servicenow_audit_MM-dd-yyyy_ambiguous.csv"
    _drop_in_inbox(tmp_path, "servicenow-audit", fixture)
    [refused] = inbox.process_inbox(tmp_path)
    assert not refused.succeeded and "--date-format" in refused.error

    _drop_in_inbox(tmp_path / "again", "servicenow-audit", fixture)
    inbox_settings(ITSM_INGEST_DATE_FORMAT="MM/dd/yyyy HH:mm")
    [imported] = inbox.process_inbox(tmp_path / "again")

    assert imported.succeeded, imported.error
    with committed_engine.connect() as connection:
        opened = connection.execute(
            text("select opened_at from operational.incidents where external_id = 'INC0200001'")
        ).scalar()
    assert opened == utc(2016, 2, 3, 9, 5)  # month first


def test_the_inbox_fails_a_file_over_its_configured_reject_rate_and_loads_nothing(
    committed_engine, fixtures, tmp_path, inbox_settings
):
    from ingest import inbox

    # Read month-first, the day-first file's 25-02-2016 is no date: 1 row of 5 rejected (20%).
    fixture = fixtures / "formats" / "servicenow_audit_dd-MM-yyyy.csv"
    _drop_in_inbox(tmp_path, "servicenow-audit", fixture)
    inbox_settings(ITSM_INGEST_DATE_FORMAT="MM-dd-yyyy HH:mm", ITSM_INBOX_MAX_REJECT_RATE="5")

    [failed] = inbox.process_inbox(tmp_path)

    assert not failed.succeeded
    assert failed.file.parent.name == "failed"
    assert "more than ITSM_INBOX_MAX_REJECT_RATE 5%" in failed.error
    assert "bad_date" in failed.error
    report = json.loads(failed.report.read_text())
    assert Path(report["rejects"]).exists()
    with committed_engine.connect() as connection:
        assert connection.execute(text("select count(*) from operational.incidents")).scalar() == 0

    # Allowed a higher rate, the same file loads its good rows.
    _drop_in_inbox(tmp_path / "again", "servicenow-audit", fixture)
    inbox_settings(ITSM_INBOX_MAX_REJECT_RATE="25")
    [loaded] = inbox.process_inbox(tmp_path / "again")
    assert loaded.succeeded, loaded.error
    assert loaded.summary["rejected"] >= 1
    with committed_engine.connect() as connection:
        assert connection.execute(text("select count(*) from operational.incidents")).scalar() > 0
