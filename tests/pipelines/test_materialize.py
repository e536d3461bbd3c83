"""``itsm pipelines run`` end to end: the inbox import, every dbt model and check, and the
compliance exports, in-process against a real database, with figures computed by hand."""

from datetime import date

import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import ProgrammingError
from typer.testing import CliRunner

from ingest.inbox import pending_files
from operational.cli import app as cli
from operational.core.config import Settings
from operational.exports import service as exports
from operational.exports.analyst_role import analyst_url, auditor_url
from tests.pipelines import history

pytestmark = pytest.mark.slow


def _rows(url: str, sql: str, **parameters) -> list[tuple]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), parameters)]
    finally:
        engine.dispose()


def test_pipelines_run_imports_builds_and_exports(pipeline_home):
    home, url = pipeline_home
    inbox = home / "inbox" / "servicenow-audit"
    inbox.mkdir(parents=True)
    history.write_history(inbox / "history.csv")

    first = CliRunner().invoke(cli, ["pipelines", "run"])

    assert first.exit_code == 0, first.output
    assert "all assets materialized" in first.output
    assert pending_files(home) == []
    processed = sorted(path.name for path in (inbox / "processed").iterdir())
    assert [name.split("-", 1)[1] for name in processed] == [
        "history.csv",
        "history.csv.report.json",
    ]

    # The figures of tests/pipelines/history.py, computed by hand.
    incidents = _rows(
        url,
        "select external_id, minutes_to_acknowledge, minutes_to_resolve"
        " from marts.fct_incidents order by external_id",
    )
    assert incidents == [
        ("INC0090001", 30, 120),
        ("INC0090002", 15, 240),
        ("INC0090003", 45, None),
    ]
    day = {"day": date.fromisoformat(history.DAY)}
    mttr = _rows(
        url,
        "select resolved_count, mttr_minutes, mttr_median_minutes, mttr_p90_minutes"
        " from marts.mttr_per_period where period_grain = 'day' and period_start = :day"
        " and slice_by = 'all'",
        **day,
    )
    assert mttr == [(2, history.MTTR_MINUTES, history.MTTR_MINUTES, history.MTTR_P90_MINUTES)]
    mtta = _rows(
        url,
        "select acknowledged_count, mtta_minutes from marts.mtta_per_period"
        " where period_grain = 'day' and period_start = :day and slice_by = 'all'",
        **day,
    )
    assert mtta == [(3, history.MTTA_MINUTES)]

    # Yesterday's and last month's exports, each verified against its manifest.
    directory = exports.exports_dir(Settings(home=home, database_url=url))
    folders = sorted(path for path in directory.iterdir() if not path.name.startswith("."))
    assert len(folders) == 2 and all(exports.verify_folder(folder) == [] for folder in folders)
    assert _rows(url, "select count(*) from operational.exports") == [(2,)]

    # An analyst reads the tables dbt has just (re)created, and nothing operational nor
    # personal: no email in the marts, the access review only for auditors.
    settings = Settings(home=home, database_url=url)
    analyst = analyst_url(settings)
    assert _rows(analyst, "select count(*) from marts.fct_incidents") == [(3,)]
    emails = "select count(*) from information_schema.columns where column_name = 'email'"
    assert _rows(analyst, emails) == [(0,)]
    with pytest.raises(ProgrammingError, match="permission denied"):
        _rows(analyst, "select count(*) from personal.access_review")
    auditor = auditor_url(settings)
    [(accounts,)] = _rows(auditor, "select count(*) from personal.access_review")
    assert accounts > 0
    # dbt built them as its own role, which owns them.
    owners = "select distinct tableowner from pg_tables where schemaname in ('marts', 'personal')"
    assert _rows(url, owners) == [("itsm_dbt",)]

    second = CliRunner().invoke(cli, ["pipelines", "run"])

    assert second.exit_code == 0, second.output
    versions = _rows(url, "select version from operational.exports order by id")
    assert versions == [(1,), (1,), (2,), (2,)]  # re-runs add versions; the first ones remain
    assert all(exports.verify_folder(folder) == [] for folder in folders)
    assert _rows(url, "select count(*) from marts.fct_incidents") == [(3,)]
    # A second run refreshes: every incremental model added only what was new ...
    rebuilt_whole = (
        "select bool_or(full_build), bool_and(full_build) from intermediate.incremental_watermarks"
    )
    assert _rows(url, rebuilt_whole) == [(False, False)]

    # ... unless asked to rebuild them from all history.
    third = CliRunner().invoke(cli, ["pipelines", "run", "--full-refresh"])

    assert third.exit_code == 0, third.output
    assert _rows(url, rebuilt_whole) == [(True, True)]
    assert _rows(url, "select count(*) from marts.fct_incidents") == [(3,)]
