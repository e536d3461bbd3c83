"""``itsm up``: everything a new user needs, in one command (the README's run command).

Database → migrations → first admin → demo year (once) → pipelines once → then API, SMTP
listener (mail to ticket), Dagster daemon (schedules and sensors) and dashboards side by side
until Ctrl-C.
"""

import os
import signal
import subprocess
import sys
import time

import httpx
import typer
from rich.console import Console
from rich.panel import Panel

console = Console()


def ensure_admin(email: str) -> str | None:
    """Create the first admin when there is none; return its one-time password, else None."""

    from operational.auth import service
    from operational.auth.permissions import Role
    from operational.auth.security import generate_password
    from operational.core.db import session_scope

    with session_scope() as session:
        if service.any_user_with_role(session=session, role=Role.admin):
            return None
        password = generate_password()
        service.create_user(
            session=session,
            email=email,
            password=password,
            roles=[Role.admin],
            display_name="Administrator",
            must_change_password=True,
        )
        return password


def demo_loaded() -> bool:
    from sqlalchemy import select

    from operational.core.db import session_scope
    from operational.incidents.models import Incident
    from sampledata.demo import SOURCE_SYSTEM

    with session_scope() as session:
        return (
            session.scalar(
                select(Incident.id).where(Incident.source_system == SOURCE_SYSTEM).limit(1)
            )
            is not None
        )


def _itsm(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "operational.cli", *arguments]


def _wait_until_answers(url: str, *, seconds: float, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def _stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def up(
    host: str = typer.Option("127.0.0.1", help="Interface for the API and the dashboards."),
    port: int = typer.Option(8000, help="API port."),
    dashboards_port: int = typer.Option(8501, help="Dashboards port."),
    admin_email: str = typer.Option("admin@example.com", help="Email of the first admin."),
    demo: bool = typer.Option(True, help="Load the demo year on the first run."),
    incidents: int = typer.Option(20_000, min=1, help="Demo size, in incidents."),
    pipelines: bool = typer.Option(True, help="Run the pipelines and keep their daemon running."),
    dashboards: bool = typer.Option(True, help="Serve the dashboards."),
    mail: bool | None = typer.Option(
        None, help="Run the SMTP listener (default ITSM_INBOUND_MAIL_ENABLED, on)."
    ),
) -> None:
    """Start the database, migrate, create the first admin, load the demo year (first run only),
    build the marts, then serve the API, the pipelines' daemon and the dashboards until Ctrl-C."""
    from operational.cli import pipelines as pipelines_cli
    from operational.cli.db import migrate_or_explain
    from operational.cli.demo import demo as load_demo
    from operational.core.config import get_settings

    with console.status("starting the database, setting up its roles and migrating"):
        migrate_or_explain()
    password = ensure_admin(admin_email)

    if demo and not demo_loaded():
        console.rule("demo data")
        load_demo(
            incidents=incidents,
            requests_per_month=40,
            seed=2025,
            end_date=None,
            serve_api=False,
            host=host,
            port=port,
        )
    if pipelines:
        console.rule("pipelines: import inbox, build marts, compliance exports")
        if not pipelines_cli.run_once():
            console.print("[yellow]some pipeline steps failed; see the summary above[/]")

    api_url = f"http://{host}:{port}"
    dashboards_url = f"http://{host}:{dashboards_port}"
    environment = {**os.environ, "ITSM_API_BASE_URL": api_url}
    processes = [
        subprocess.Popen(
            _itsm("serve", "--host", host, "--port", str(port), "--no-migrate"),
            env=environment,
            start_new_session=True,
        )
    ]
    try:
        if not _wait_until_answers(f"{api_url}/readyz", seconds=60, process=processes[0]):
            console.print("[red]the API did not start; see its log above[/]")
            raise typer.Exit(1)
        lines = [
            f"API and OpenAPI docs: {api_url}/docs",
            f"web UI:              {api_url}/ui/",
        ]
        settings = get_settings()
        if settings.inbound_mail_enabled if mail is None else mail:
            processes.append(
                subprocess.Popen(_itsm("mail", "serve"), env=environment, start_new_session=True)
            )
            lines.append(
                f"mail to ticket:      smtp://{settings.inbound_mail_host}:"
                f"{settings.inbound_mail_port}"
            )
        if pipelines:
            processes.append(pipelines_cli.spawn_daemon(new_session=True))
            lines.append("pipelines daemon:    running (schedules and inbox sensor)")
            lines.append("pipelines UI:        itsm pipelines ui   (optional)")
        if dashboards:
            processes.append(
                subprocess.Popen(
                    _itsm("dashboards", "--host", host, "--port", str(dashboards_port)),
                    env=environment,
                    start_new_session=True,
                )
            )
            _wait_until_answers(
                f"{dashboards_url}/_stcore/health", seconds=60, process=processes[-1]
            )
            lines.append(f"dashboards:          {dashboards_url}")
        if password:
            lines.append(f"first admin:         {admin_email}")
            lines.append(f"one-time password:   [bold]{password}[/] (change it at first sign-in)")
        else:
            lines.append("admin account:       exists already")
        lines.append("stop everything:     Ctrl-C   (the database keeps running: itsm db stop)")
        console.print(Panel("\n".join(lines), title="ITSM is up"))
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        console.print("[red]a service stopped; shutting the others down[/]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        _stop_all(processes)
