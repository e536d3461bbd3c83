"""``itsm mail``: mail to ticket (docs/inbound.md). ``serve`` listens for SMTP; ``import``
reads .eml files or a Maildir."""

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Mail to ticket: the SMTP listener and the .eml / Maildir import.")
console = Console()


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Interface (default ITSM_INBOUND_MAIL_HOST)."),
    port: int | None = typer.Option(None, help="Port (default ITSM_INBOUND_MAIL_PORT, 8025)."),
) -> None:
    """Receive mail over SMTP and turn it into incidents and comments until Ctrl-C."""
    import logging
    import threading

    from ingest.mail import smtp
    from operational.automation import flows as automation_flows
    from operational.core.config import get_settings
    from operational.core.logging import configure_logging

    automation_flows.install()  # mail that raises or answers tickets runs the rules too
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's line per SMTP command
    stop = threading.Event()
    console.print(
        f"SMTP listener on {host or settings.inbound_mail_host}:"
        f"{port or settings.inbound_mail_port}; Ctrl-C stops it."
    )
    try:
        smtp.serve(host=host, port=port, stop=stop)
    except KeyboardInterrupt:
        stop.set()
        console.print("stopped")


@app.command("import")
def import_mail(
    path: Path = typer.Argument(
        ..., exists=True, help="An .eml file, a folder of them, or a Maildir."
    ),
) -> None:
    """Import mail delivered to disk; each Message-ID is acted on once, so re-running is safe."""
    from ingest.mail.files import import_path
    from operational.automation import flows as automation_flows

    automation_flows.install()
    report = import_path(path)
    for name, received in report.results:
        what = "duplicate" if received.duplicate else received.outcome.value
        detail = received.incident_number or received.reason or ""
        console.print(f"{name}: {what} {detail}")
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.outcomes.items()))
    console.print(
        f"read {report.read} mails: {summary or 'nothing new'}; {report.duplicates} seen before"
    )
