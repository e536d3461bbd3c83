"""ITSM_ACCESS_LOG=false writes no line per request: uvicorn decides per connection whether to
log by ``logging.getLogger("uvicorn.access").hasHandlers()``, after the app has configured
logging, so that is what must say no (it said yes: the app's logging set the access logger to
propagate to the root handler, and every request was logged whatever the setting)."""

import logging

import pytest

from operational.core.logging import configure_logging

NAMES = ("uvicorn", "uvicorn.access", "uvicorn.error")


@pytest.fixture(autouse=True)
def logging_restored():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    loggers = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in NAMES
    }
    yield
    root.handlers[:], level = saved[0], saved[1]
    root.setLevel(level)
    for name, (handlers, propagate) in loggers.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


@pytest.mark.parametrize("access_log", [True, False])
def test_the_access_log_is_written_exactly_when_it_is_on(access_log):
    configure_logging("INFO", access_log=access_log)
    assert logging.getLogger("uvicorn.access").hasHandlers() is access_log
    assert logging.getLogger("uvicorn.error").hasHandlers()  # errors are always written


def test_the_application_follows_the_setting(monkeypatch):
    from operational.core.config import get_settings
    from operational.main import create_app

    monkeypatch.setenv("ITSM_ACCESS_LOG", "false")
    get_settings.cache_clear()
    try:
        create_app()
        assert not logging.getLogger("uvicorn.access").hasHandlers()
    finally:
        monkeypatch.delenv("ITSM_ACCESS_LOG")
        get_settings.cache_clear()
