"""``itsm demo``: a seeded year of service-desk history, imported through `ingest`, then the API."""

from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table


def demo(
    incidents: int = typer.Option(20_000, min=1, help="How many incidents to generate."),
    requests_per_month: int = typer.Option(
        40, min=0, help="Service requests a month, ordered through the request flows (0: none)."
    ),
    seed: int = typer.Option(2025, help="Random seed: the same seed gives the same data."),
    end_date: datetime | None = typer.Option(
        None,
        formats=["%Y-%m-%d"],
        help="Last day of the demo year (default: yesterday, UTC). Fix it to reproduce files.",
    ),
    serve_api: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API afterwards."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
) -> None:
    """Generate a realistic year (teams, CIs, changes with CAB decisions, problems, incidents
    with history, CSAT) as a generic export, import it like any other export, write a knowledge
    base the incidents use, add a service catalog and a year of requests through approval and
    fulfilment, then serve the API."""
    from ingest import loader, sources
    from operational.cli.db import migrate_or_explain
    from operational.cli.serve import serve
    from operational.core.config import get_settings
    from operational.core.db import session_scope
    from sampledata import demo as demo_data
    from sampledata.knowledge import seed_knowledge

    console = Console()
    migrate_or_explain()
    directory = get_settings().home / "demo"
    with console.status("Generating the demo year ..."):
        export = demo_data.write_demo_export(
            directory,
            seed=seed,
            incidents=incidents,
            end_date=end_date.date() if end_date else None,
        )
    console.print(
        f"Generated {export.incidents:,} incidents with {export.events:,} events, "
        f"{export.configuration_items:,} CIs, {export.changes:,} changes with "
        f"{export.change_approvals:,} CAB decisions and {export.csat_answers:,} CSAT answers "
        f"from {export.first_day} to {export.last_day} in {directory}"
    )
    table = Table(title="Demo import")
    for column in ("file", "read", "loaded", "updated", "rejected", "skipped"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for data_file, mapping_file in demo_data.IMPORT_ORDER:
        with console.status(f"Importing {data_file} ..."):
            parsed = sources.parse(
                "generic", directory / data_file, mapping=directory / mapping_file
            )
            report = loader.load(parsed, rejects_dir=directory)
        table.add_row(data_file, *(f"{value:,}" for value in report.summary().values()))
    console.print(table)
    with console.status("Writing the knowledge base ..."), session_scope() as session:
        knowledge = seed_knowledge(session, seed=seed)
    console.print(
        f"Knowledge base: {knowledge.articles} articles ({knowledge.versions} published "
        f"versions, {knowledge.retired} retired), used on {knowledge.uses:,} incidents, "
        f"{knowledge.ratings} ratings"
    )
    if requests_per_month:
        from datetime import UTC, time, timedelta

        from sampledata.requests import seed_requests

        start = datetime.combine(export.first_day, time(), tzinfo=UTC)
        end = datetime.combine(export.last_day + timedelta(days=1), time(), tzinfo=UTC)
        status = console.status("Ordering, approving and fulfilling the demo requests ...")
        with status, session_scope() as session:
            made = seed_requests(
                session=session, start=start, end=end, seed=seed, per_month=requests_per_month
            )
        console.print(
            f"Added a catalog of {made.catalog_items} items and {made.requests:,} requests: "
            f"{made.delivered:,} delivered ({made.late:,} late), {made.rejected:,} rejected, "
            f"{made.csat_answers:,} CSAT answers"
        )
    if serve_api:
        serve(host=host, port=port, migrate=False, workers=0)
