"""Background jobs of the incident domain, run by the worker (``itsm worker`` / ``itsm serve``).

The worker process belongs to the SLA engine; it calls ``run_auto_close`` on its schedule, or
runs ``auto_close_loop`` in a thread. Both are safe in several processes at once: each pass
locks the incidents it closes and skips those another process holds.
"""

import logging
import threading
from datetime import UTC, datetime

from operational.core.db import session_scope
from operational.incidents import service

logger = logging.getLogger("operational.incidents.jobs")

AUTO_CLOSE_INTERVAL_SECONDS = 300.0


def run_auto_close(now: datetime | None = None) -> int:
    """One pass in its own transaction: close every incident resolved long enough ago."""
    closed = 0
    with session_scope() as session:
        closed = service.close_resolved_incidents(session=session, now=now or datetime.now(UTC))
    if closed:
        logger.info("auto-closed resolved incidents", extra={"closed": closed})
    return closed


def auto_close_loop(
    stop: threading.Event, *, interval_seconds: float = AUTO_CLOSE_INTERVAL_SECONDS
) -> None:
    """Run ``run_auto_close`` every ``interval_seconds`` until ``stop`` is set."""
    while not stop.is_set():
        try:
            run_auto_close()
        except Exception:
            logger.exception("auto-close pass failed; retrying at the next interval")
        stop.wait(interval_seconds)
