"""The daemon beside the API: a file dropped in the inbox is imported without anyone asking."""

import threading
import time

import pytest

from ingest.inbox import pending_files
from operational.cli.pipelines import spawn_daemon
from tests.pipelines import history

pytestmark = pytest.mark.slow


def wait_until(condition, *, timeout: float, poll: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if condition():
            return True
        pause.wait(poll)
    return condition()


def test_daemon_imports_what_lands_in_the_inbox(pipeline_home):
    home, _ = pipeline_home
    inbox = home / "inbox" / "servicenow-audit"
    inbox.mkdir(parents=True)
    history.write_history(inbox / "history.csv")

    daemon = spawn_daemon()
    try:
        imported = wait_until(
            lambda: (inbox / "processed").is_dir() and not pending_files(home), timeout=300
        )
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)

    assert imported, "the daemon did not import the inbox within 5 minutes"
    reports = list((inbox / "processed").glob("*.report.json"))
    assert len(reports) == 1
