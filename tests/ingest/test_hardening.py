"""Ingest hardening (issue 12): a killed import leaves nothing behind, a mapping reads only files
of its own folder, and one bad inbox file never blocks the others."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import psutil
import pytest
from polars.exceptions import PanicException
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from ingest import inbox, loader, sources
from ingest.exceptions import MappingError
from sampledata.generate import write_servicenow_audit

ITSM = Path(sys.executable).with_name("itsm")


def _scalar(engine, sql: str, **params):
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def _wait_until(condition, *, process: subprocess.Popen, seconds: float = 180) -> None:
    """Wait for ``condition``; each look waits on the import process itself for a moment."""
    deadline = time.monotonic() + seconds
    while not condition():
        try:
            process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        else:
            pytest.fail(f"the import ended (code {process.returncode}) before the condition held")
        assert time.monotonic() < deadline, "the condition never held"


def test_a_killed_import_leaves_no_worker_and_the_next_run_marks_it_failed(
    fresh_database, tmp_path
):
    export = write_servicenow_audit(tmp_path / "audit.csv", events=40_000, seed=11)
    url = fresh_database("killed")
    database = make_url(url).database
    engine = create_engine(url, poolclass=pool.NullPool)
    environment = {**os.environ, "ITSM_DATABASE_URL": url, "COLUMNS": "200"}
    command = [
        ITSM,
        "ingest",
        "servicenow-audit",
        export.path,
        "--workers",
        "2",
        "--batch-events",
        "400",
    ]
    importing = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    main = psutil.Process(importing.pid)

    def working() -> bool:  # mid-run: the workers are up and batches are committing
        workers = [child for child in main.children(recursive=True) if child.is_running()]
        loaded = _scalar(engine, "select count(*) from operational.incidents")
        return len(workers) >= 3 and 0 < loaded < export.incidents

    _wait_until(working, process=importing)
    descendants = main.children(recursive=True)
    connections = (
        "select count(*) from pg_stat_activity where datname = :name and pid <> pg_backend_pid()"
    )
    assert _scalar(engine, connections, name=database) >= 2
    importing.send_signal(signal.SIGKILL)
    importing.wait()

    # The worker processes (and the pool's helpers) exit when their parent dies.
    _, alive = psutil.wait_procs(descendants, timeout=60)
    assert alive == [], [process.cmdline() for process in alive]
    deadline = time.monotonic() + 30
    while _scalar(engine, connections, name=database) and time.monotonic() < deadline:
        pass  # the server drops a dead client's backend promptly
    assert _scalar(engine, connections, name=database) == 0
    run = "select status, error from operational.import_runs order by id"
    with engine.connect() as connection:
        assert [tuple(row) for row in connection.execute(text(run))] == [("running", None)]

    # The next run (the same file: it completes the import) marks the abandoned one failed.
    completed = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    with engine.connect() as connection:
        runs = [tuple(row) for row in connection.execute(text(run))]
    assert [status for status, _ in runs] == ["failed", "succeeded"]
    assert runs[0][1].startswith(f"abandoned: process {importing.pid} on ")
    assert _scalar(engine, "select count(*) from operational.incidents") == export.incidents
    engine.dispose()


def test_an_abandoned_run_of_a_live_process_is_left_alone(session):
    bind = session.connection()
    for pid in (os.getpid() + 10_000_000, os.getppid()):  # no such process; a live one
        bind.execute(
            text(
                "insert into operational.import_runs (source, source_system, file_name, "
                "file_sha256, status, started_at, pid, host) values ('generic', 'x', 'f', 'h', "
                "'running', now(), :pid, :host)"
            ),
            {"pid": pid, "host": os.uname().nodename},
        )
    failed = loader.fail_abandoned_runs(bind)
    statuses = bind.execute(
        text("select pid, status from operational.import_runs order by id")
    ).all()
    assert [tuple(row) for row in statuses] == [
        (os.getpid() + 10_000_000, "failed"),
        (os.getppid(), "running"),
    ]
    assert len(failed) == 1


# --- a mapping reads only its own folder ---------------------------------------------------

MAPPING = """
entity: incidents
source_system: helpdesk
columns: {{external_id: id, number: id, title: title, state: state, opened_at: opened}}
history:
  path: {path}
  columns: {{external_id: id, occurred_at: at, kind: kind}}
"""


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("/etc/passwd", "absolute"),
        ("../secrets.csv", "'..'"),
        ("sub/../../secrets.csv", "'..'"),
        ("C:\\\\Windows\\\\win.ini", "absolute"),
    ],
)
def test_a_mapping_cannot_name_a_file_outside_its_folder(tmp_path, name, needle):
    (tmp_path / "mapping.yaml").write_text(MAPPING.format(path=json.dumps(name)))
    (tmp_path / "tickets.csv").write_text("id,title,state,opened\n1,x,new,2026-01-01 00:00:00\n")
    with pytest.raises(MappingError, match=needle):
        sources.parse("generic", tmp_path / "tickets.csv", mapping=tmp_path / "mapping.yaml")


def test_a_symlink_leaving_the_folder_is_refused_and_one_inside_is_fine(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("id,at,kind\n1,2026-01-01 00:00:00,created\n")
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "tickets.csv").write_text("id,title,state,opened\n1,x,new,2026-01-01 00:00:00\n")
    (folder / "leak.csv").symlink_to(outside / "secret.csv")
    (folder / "mapping.yaml").write_text(MAPPING.format(path="leak.csv"))
    with pytest.raises(MappingError, match="leads out of"):
        sources.parse("generic", folder / "tickets.csv", mapping=folder / "mapping.yaml")
    (folder / "history.csv").write_text("id,at,kind\n1,2026-01-01 00:00:00,created\n")
    (folder / "alias.csv").symlink_to(folder / "history.csv")
    (folder / "mapping.yaml").write_text(MAPPING.format(path="alias.csv"))
    parsed = sources.parse("generic", folder / "tickets.csv", mapping=folder / "mapping.yaml")
    assert parsed.incidents.height == 1


# --- one bad inbox file never blocks the others -------------------------------------------


@pytest.fixture
def home(tmp_path, committed_database):
    (tmp_path / "inbox" / "generic").mkdir(parents=True)
    return tmp_path


def _good(folder: Path, name: str) -> Path:
    (folder / f"{name}.mapping.yaml").write_text(
        "entity: incidents\nsource_system: helpdesk\n"
        "columns: {external_id: id, number: id, title: title, state: state, opened_at: opened}\n"
    )
    path = folder / name
    path.write_text(f"id,title,state,opened\n{name},x,new,2026-01-01 00:00:00\n")
    return path


def _touch_in_order(*paths: Path) -> None:
    for index, path in enumerate(paths):
        os.utime(path, (1_000_000 + index, 1_000_000 + index))


def test_every_kind_of_bad_file_goes_to_failed_with_its_reason_and_the_others_are_imported(
    home, monkeypatch
):
    folder = home / "inbox" / "generic"
    first = _good(folder, "first.csv")
    nested = folder / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    (folder / "nested.json.mapping.yaml").write_text(
        "entity: incidents\nsource_system: helpdesk\ncolumns: {external_id: id, number: id}\n"
    )
    huge = _good(folder, "huge.csv")
    huge.write_text(huge.read_text() + "#" * 5000 + "\n")
    outside = home / "elsewhere.csv"
    outside.write_text("id,title,state,opened\nX,x,new,2026-01-01 00:00:00\n")
    linked = folder / "linked.csv"
    linked.symlink_to(outside)
    (folder / "linked.csv.mapping.yaml").write_text((folder / "first.csv.mapping.yaml").read_text())
    last = _good(folder, "last.csv")
    _touch_in_order(first, nested, huge, linked, last)
    monkeypatch.setenv("ITSM_INGEST_MAX_FILE_BYTES", "1000")
    from operational.core.config import get_settings

    get_settings.cache_clear()
    try:
        results = {
            result.file.name.split("-", 1)[1]: result for result in inbox.process_inbox(home)
        }
    finally:
        get_settings.cache_clear()
    assert {name: result.succeeded for name, result in results.items()} == {
        "first.csv": True,
        "nested.json": False,
        "huge.csv": False,
        "linked.csv": False,
        "last.csv": True,
    }
    reasons = {
        name: json.loads(result.report.read_text())["error"]
        for name, result in results.items()
        if not result.succeeded
    }
    assert "over the limit of 1,000" in reasons["huge.csv"]
    assert "leads out of" in reasons["linked.csv"]
    assert reasons["nested.json"]
    for name, result in results.items():
        assert result.file.parent.name == ("processed" if result.succeeded else "failed"), name
    assert outside.exists()


def test_a_database_error_and_a_polars_panic_fail_their_file_only(home, monkeypatch):
    folder = home / "inbox" / "generic"
    broken, panicking, fine = (_good(folder, name) for name in ("db.csv", "panic.csv", "ok.csv"))
    _touch_in_order(broken, panicking, fine)
    real_load = loader.load

    def failing_load(parsed, **kwargs):
        name = Path(parsed.path).name
        if name == "db.csv":
            with kwargs["engine"].connect() as connection:
                connection.execute(text("select * from no_such_table"))
        if name == "panic.csv":
            # What reaches Python when polars' Rust code panics: no Exception, a BaseException.
            raise PanicException("polars panicked")
        return real_load(parsed, **kwargs)

    monkeypatch.setattr(loader, "load", failing_load)
    from operational.core.db import get_engine

    results = inbox.process_inbox(home, engine=get_engine())
    outcome = {result.file.name.split("-", 1)[1]: result for result in results}
    assert {name: result.succeeded for name, result in outcome.items()} == {
        "db.csv": False,
        "panic.csv": False,
        "ok.csv": True,
    }
    assert "no_such_table" in outcome["db.csv"].error


# --- imported fields have a maximum size ---------------------------------------------------


def test_a_value_over_its_column_limit_is_a_reject_and_the_good_rows_load(tmp_path, session):
    from operational.core.schemas import TEXT_MAX_LENGTH

    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "entity: incidents\nsource_system: helpdesk\n"
        "columns: {external_id: id, number: id, title: title, description: body, "
        "category: category, state: state, opened_at: opened}\n"
    )
    rows = [
        ("ok", "fine", "short", "Network"),
        ("long-title", "t" * 301, "short", "Network"),
        ("long-body", "fine", "b" * (TEXT_MAX_LENGTH + 1), "Network"),
        ("long-category", "fine", "short", "c" * 121),
        ("longest-allowed", "t" * 300, "b" * TEXT_MAX_LENGTH, "c" * 120),
    ]
    data = tmp_path / "tickets.csv"
    data.write_text(
        "id,title,body,category,state,opened\n"
        + "".join(f"{i},{t},{b},{c},new,2026-01-01 00:00:00\n" for i, t, b, c in rows)
    )
    parsed = sources.parse("generic", data, mapping=mapping)
    assert sorted(parsed.incidents.get_column("external_id")) == ["longest-allowed", "ok"]
    too_long = parsed.rejects.filter(pl.col("reason") == "too_long")
    assert sorted(zip(too_long["line"], too_long["column"], strict=True)) == [
        (3, "title"),
        (4, "body"),
        (5, "category"),
    ]
    assert (
        "301 characters; at most 300 fit"
        in too_long.filter(pl.col("column") == "title")["detail"][0]
    )
    report = loader.load(parsed, engine=session.connection())
    assert report.counts["incidents"].loaded == 2
    assert report.rejected == 3
