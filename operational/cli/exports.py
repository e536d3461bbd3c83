"""``itsm exports``: work with a compliance export folder on its own, offline."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from operational.core.errors import BadRequest

app = typer.Typer(help="Compliance exports, offline (no database needed).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.command("query")
def query(
    folder: Annotated[Path, typer.Argument(help="An export folder (with its manifest.json)")],
    sql: Annotated[
        str,
        typer.Argument(
            help="SQL over the export; each mart is a view named after its Parquet file, "
            'e.g. "select target_type, count(*) from sla_breach_register group by 1"'
        ),
    ],
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table")] = False,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the manifest first")
    ] = True,
) -> None:
    """Query an export's Parquet files in place with duckdb (docs/exports.md)."""
    from operational.exports import offline

    try:
        frame = offline.query(folder, sql, verify=verify)
    except BadRequest as error:
        err_console.print(f"[red]{error.detail}[/red]")
        raise typer.Exit(1) from None
    if csv:
        typer.echo(frame.write_csv(), nl=False)
        return
    table = Table(*frame.columns)
    for row in frame.iter_rows():
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)
