"""``itsm audit``: check the event log's hash chains and seals, and anchor the current root
outside the system (docs/security.md, "Audit trail")."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="Verify the tamper-evident event log, seal it, and anchor its root outside.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@app.command("verify")
def verify(
    since: Annotated[
        datetime | None,
        typer.Option(
            "--from", formats=_FORMATS, help="Only records with events recorded from (UTC)."
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--to", formats=_FORMATS, help="... and before this time (UTC)."),
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(help="An anchor file from `itsm audit anchor`: its seal must be unchanged."),
    ] = None,
) -> None:
    """Recompute every record's hash chain and check every seal; names the first broken links.

    Exit code 0 when everything is intact, 1 when a link is broken.
    """
    from operational.audit import service
    from operational.core.config import get_settings
    from operational.core.db import session_scope

    key = get_settings().audit_key.get_secret_value()
    with session_scope() as session:
        report = service.verify(session=session, key=key, since=_utc(since), until=_utc(until))
        if anchor is not None:
            kept = json.loads(anchor.read_text())
            problem = service.check_anchor(session=session, anchor=kept)
            if problem:
                report.breaks.append(problem)
    summary = f"{report.events} events in {report.chains} records, {report.seals} seals checked"
    if report.intact:
        console.print(f"[green]intact[/]: {summary}")
        return
    err_console.print(f"[red]BROKEN[/]: {summary}; first broken link:")
    for number, problem in enumerate(report.breaks):
        err_console.print(f"  {'→' if number == 0 else ' '} {problem}", markup=False)
    raise typer.Exit(1)


@app.command("seal")
def seal() -> None:
    """Seal the chain heads now (the worker does it every ITSM_AUDIT_SEAL_MINUTES)."""
    from operational.audit import service
    from operational.core.config import get_settings
    from operational.core.db import session_scope

    key = get_settings().audit_key.get_secret_value()
    with session_scope() as session:
        described = service.describe(service.seal(session=session, key=key))
    console.print_json(json.dumps(described))


@app.command("anchor")
def anchor(
    output: Annotated[
        Path | None, typer.Option(help="Write the anchor (JSON) to this file instead.")
    ] = None,
) -> None:
    """Seal now and print the root over all chain heads with its time, for an auditor to keep
    outside the system (`itsm audit verify --anchor FILE` checks it later)."""
    from operational.audit import service
    from operational.core.config import get_settings
    from operational.core.db import session_scope

    key = get_settings().audit_key.get_secret_value()
    with session_scope() as session:
        described = service.anchor(session=session, key=key)
    text = json.dumps(described, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        console.print(f"anchor of seal {described['seal_id']} written to {output}")
