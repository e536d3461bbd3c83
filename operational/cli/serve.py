"""``itsm serve``: the API."""

import os

import typer


def default_workers() -> int:
    """One API process per core, up to four: each has its own pool (ITSM_DB_POOL_SIZE +
    ITSM_DB_MAX_OVERFLOW connections), auth listener and SLA worker thread."""
    return max(1, min(os.cpu_count() or 1, 4))


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    migrate: bool = typer.Option(True, help="Migrate the schema before serving."),
    workers: int = typer.Option(
        0, min=0, help="API worker processes (0: one per core, up to four)."
    ),
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from operational.cli.db import migrate_or_explain
    from operational.core.config import get_settings

    if migrate:
        migrate_or_explain()
    uvicorn.run(
        "operational.main:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or default_workers(),
        log_config=None,
        access_log=get_settings().access_log,
    )
