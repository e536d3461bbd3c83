"""``itsm db``: the database server and its schema."""

import typer
from rich.console import Console

from operational.core import embedded
from operational.core.config import get_settings
from operational.core.db import admin_database_url, libpq_url

app = typer.Typer(help="Start, stop and migrate the database.", no_args_is_help=True)
console = Console()


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL (no-op when ITSM_DATABASE_URL is set or it already runs)."""
    settings = get_settings()
    if not settings.uses_embedded_database:
        console.print("ITSM_DATABASE_URL is set: using that server; nothing to start.")
        return
    server = embedded.start(settings.home, settings.database_name)
    console.print(f"[green]running[/] pid {server.pid}, data in {server.pgdata}")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL."""
    settings = get_settings()
    if not settings.uses_embedded_database:
        console.print("ITSM_DATABASE_URL is set: that server is not ours to stop.")
        return
    if embedded.stop(settings.home):
        console.print("[green]stopped[/]")
    else:
        console.print("not running")


@app.command()
def status() -> None:
    """Show whether the database runs and which schema revision it is at."""
    from operational.core.migrate import current_revision

    settings = get_settings()
    if settings.uses_embedded_database:
        server = embedded.status(settings.home)
        if server is None:
            console.print(f"embedded PostgreSQL: [yellow]stopped[/] (data in {settings.home})")
            raise typer.Exit(1)
        console.print(f"embedded PostgreSQL: [green]running[/] pid {server.pid}")
    url = admin_database_url(settings)
    try:
        revision = current_revision(url)
    except Exception as exc:  # the server may be down or refuse us
        console.print(f"[red]database unreachable[/]: {exc.__class__.__name__}")
        raise typer.Exit(1) from None
    console.print(f"schema revision: {revision or 'none (run itsm db migrate)'}")


def migrate_or_explain(url: str | None = None) -> None:
    """Set up the roles and migrate; when the administrative role may not set up the roles, say
    which statements a database administrator must run, and exit 1."""
    from operational.core.migrate import upgrade
    from operational.core.roles import MissingPrivileges

    try:
        upgrade(url)
    except MissingPrivileges as missing:
        console.print(f"[red]missing privileges[/]: {missing}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def ensure_schema(out: Console | None = None) -> None:
    """Before a command that needs the schema: migrate it when it is behind (a fresh
    ``ITSM_HOME``, an upgrade), or say in one line what to run and exit 1. Never a traceback."""
    from alembic.script import ScriptDirectory

    from operational.core.migrate import alembic_config, current_revision

    out = out or console
    try:
        url = admin_database_url()
        revision = current_revision(url)
    except Exception as exc:  # no server, refused, a bad URL: one line, not a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        out.print(
            f"[red]database unreachable[/] ({exc.__class__.__name__}: {reason[:200]}): "
            "start it with `itsm db start`, or check ITSM_DATABASE_URL",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision == head:
        return
    out.print(
        f"schema at {revision or 'no revision (new database)'}: migrating to {head} first "
        "(as `itsm db migrate` does)",
        highlight=False,
    )
    try:
        migrate_or_explain(url)
    except typer.Exit:
        raise
    except Exception as exc:
        out.print(
            f"[red]could not migrate[/] ({exc.__class__.__name__}): run `itsm db migrate` and "
            "read its error",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Create the database roles (schema owner, runtime, dbt, analyst, auditor), bring the schema
    to the latest revision and grant each role what it needs (idempotent). Without the right to
    create roles, it prints the statements a database administrator must run."""
    migrate_or_explain()
    console.print("[green]roles and schema up to date[/]")


@app.command("psql-url")
def psql_url() -> None:
    """Print the administrative libpq connection URL (for psql or any client)."""
    print(libpq_url(admin_database_url()))


@app.command("analyst-url")
def analyst_url() -> None:
    """Print a connection URL for the read-only analyst role (schema marts only)."""
    from operational.exports.analyst_role import analyst_url as read_only_url

    print(read_only_url(get_settings()))


@app.command("auditor-url")
def auditor_url() -> None:
    """Print a connection URL for the read-only auditor role (marts and the personal data of
    schema personal, such as the access review)."""
    from operational.exports.analyst_role import auditor_url as read_only_url

    print(read_only_url(get_settings()))
