"""The ``itsm`` command line. One module per command group; each registers itself below."""

import typer

from operational.cli import (
    audit,
    dashboards,
    db,
    demo,
    exports,
    incident,
    ingest,
    keys,
    mail,
    pipelines,
    serve,
    up,
    user,
    worker,
)

app = typer.Typer(
    name="itsm",
    help="ITSM platform: database, API, users, ingestion, pipelines and dashboards.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(user.app, name="user")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(keys.app, name="keys")
app.add_typer(exports.app, name="exports")
app.add_typer(mail.app, name="mail")
app.add_typer(audit.app, name="audit")
app.add_typer(incident.app, name="incident")
app.command("serve")(serve.serve)
app.command("up")(up.up)
app.command("dashboards")(dashboards.dashboards)
app.command("worker")(worker.worker)
app.command("ingest")(ingest.ingest)
app.command("demo")(demo.demo)


def main() -> None:
    app()
