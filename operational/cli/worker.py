"""``itsm worker``: the SLA worker (warnings, breaches, escalations, auto-close) on its own."""

import typer
from rich.console import Console

console = Console()


def worker(
    once: bool = typer.Option(False, "--once", help="Run one scan, print what it did and exit."),
    interval: float | None = typer.Option(
        None,
        min=1,
        max=30,
        help="Seconds between scans (default: ITSM_WORKER_INTERVAL_SECONDS, 15).",
    ),
) -> None:
    """Find SLA warnings and breaches, run escalation rules, auto-close resolved incidents and
    send the notifications waiting in the outbox.

    `itsm serve` already runs this in a thread; run it separately when the API runs with
    ITSM_RUN_WORKER=false. Several workers may run at once: nothing is ever escalated twice.
    """
    import threading

    from operational import worker as background
    from operational.cli.db import ensure_schema
    from operational.core.config import get_settings
    from operational.core.logging import configure_logging

    ensure_schema(console)
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    if once:
        report = background.run_once()
        console.print(
            f"processed {report.processed} incidents, fired {report.escalations} escalations, "
            f"closed {report.closed}, skipped {report.skipped} (locked), failed {report.failed}; "
            f"notifications: {report.delivered} delivered, {report.delivery_failures} failed, "
            f"{report.digests} digests; automation: {report.scheduled_rules} scheduled rules "
            f"fired on {report.rules_fired} records"
        )
        raise typer.Exit(1 if report.failed else 0)
    stop = threading.Event()
    seconds = interval or settings.worker_interval_seconds
    console.print(f"SLA worker scanning every {seconds:g} s; Ctrl-C stops it.")
    try:
        background.run_forever(stop=stop, interval_seconds=seconds)
    except KeyboardInterrupt:
        stop.set()
        console.print("stopped")
