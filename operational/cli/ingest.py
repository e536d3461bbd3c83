"""``itsm ingest``: import another tool's export (with its history) through `ingest`."""

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

SOURCE_HELP = "servicenow-audit, servicenow-table, jira or generic"


def ingest(
    source: str = typer.Argument(..., help=SOURCE_HELP),
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The export file."),
    mapping: Path | None = typer.Option(
        None, "--mapping", exists=True, dir_okay=False, help="YAML mapping (generic, jira)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and report; write nothing."),
    rejects_dir: Path | None = typer.Option(
        None, help="Where to write the rejects report (default: beside the file)."
    ),
    workers: int | None = typer.Option(
        None, min=1, help="Ticket batches loaded at once (default: one per CPU, at most four)."
    ),
    batch_events: int | None = typer.Option(
        None, min=1, help="Events per batch, each one transaction (default: 100,000)."
    ),
    date_format: str | None = typer.Option(
        None,
        "--date-format",
        help="The file's date format, when its dates do not say it: 'dd/MM/yyyy HH:mm', "
        "'MM/dd/yyyy HH:mm' or strftime ('%d/%m/%Y %H:%M'). Default: ITSM_INGEST_DATE_FORMAT "
        "if set, else read from the file.",
    ),
    max_reject_rate: float = typer.Option(
        5.0,
        "--max-reject-rate",
        min=0.0,
        max=100.0,
        help="Percent of rows that may be rejected before the import fails (nothing loads).",
    ),
) -> None:
    """Import an export: parse, check, then load in batches with COPY. Re-running is safe."""
    from ingest import loader, reconcile, rejects, sources
    from ingest.exceptions import IngestError
    from ingest.loader.report import write_rejects
    from operational.cli.db import ensure_schema
    from operational.core.config import get_settings

    console = Console()
    ensure_schema(console)
    settings = get_settings()
    date_format = date_format or settings.ingest_date_format
    options = {"date_format": date_format} if date_format else {}
    try:
        with console.status(f"Reading {path.name} as {source} ..."):
            parsed = sources.parse(source, path, mapping=mapping, **options)
    except IngestError as error:
        console.print(f"[red]Nothing imported:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from error
    console.print(
        f"Read {parsed.rows_read:,} rows: {parsed.incidents.height:,} incidents, "
        f"{parsed.events.height:,} events, {parsed.rejected:,} rejected."
    )
    failure = rejects.rate_failure(
        parsed.rejects,
        file_name=path.name,
        rows_read=parsed.rows_read,
        max_rate=max_reject_rate / 100,
    )
    if failure:
        console.print(f"[red]Nothing imported:[/] {failure}", highlight=False, soft_wrap=True)
        written = write_rejects(parsed.rejects, parsed.path, rejects_dir or path.parent)
        console.print(f"Rejected rows: {written} (and .json)", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("Dry run" if dry_run else "Loading", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or 1)

        report = loader.load(
            parsed,
            dry_run=dry_run,
            progress=advance,
            rejects_dir=rejects_dir or path.parent,
            workers=workers,
            batch_events=batch_events or loader.DEFAULT_BATCH_EVENTS,
        )
        progress.update(task, completed=progress.tasks[0].total or 1)
    table = Table(title="Dry run (nothing written)" if dry_run else "Import summary")
    for column in ("read", "loaded", "updated", "rejected", "skipped"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{value:,}" for value in report.summary().values()))
    console.print(table)
    detail = Table(show_header=True, box=None)
    for column in ("entity", "loaded", "updated", "unchanged"):
        detail.add_column(column, justify="right" if column != "entity" else "left")
    for name, counts in report.counts.items():
        if counts.loaded or counts.updated or counts.unchanged:
            detail.add_row(
                name, f"{counts.loaded:,}", f"{counts.updated:,}", f"{counts.unchanged:,}"
            )
    console.print(detail)
    figures = reconcile.lines(report.reconciliation)
    if figures:
        console.print("[bold]Replay against the source's own figures[/]")
        for line in figures:
            console.print(f"  {line}", highlight=False, soft_wrap=True)
    if report.rejects_path:
        console.print(f"Rejected rows: {report.rejects_path} (and .json)")
    if report.run_id:
        console.print(
            f"Import run #{report.run_id}: {report.batches:,} batches, ticket batches in "
            f"{report.workers} process{'es' if report.workers > 1 else ''}"
        )
