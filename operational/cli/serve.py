"""``itsm serve``: the API."""

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    migrate: bool = typer.Option(True, help="Migrate the schema before serving."),
    workers: int = typer.Option(1, min=1, help="API worker processes."),
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from operational.cli.db import migrate_or_explain

    if migrate:
        migrate_or_explain()
    uvicorn.run(
        "operational.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
    )
