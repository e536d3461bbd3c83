"""``itsm dashboards``: the managers' dashboards (Streamlit) over the marts."""

import os
import sys
from pathlib import Path

import typer
from rich.console import Console

console = Console()

APP = Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py"


def streamlit_command(*, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def dashboards_environment(marts_url: str, personal_marts_url: str) -> dict[str, str]:
    """The dashboards' environment: ours, plus the read-only connections to the marts (analyst)
    and to the personal data of the access review (auditor)."""
    return {
        **os.environ,
        "ITSM_MARTS_URL": marts_url,
        "ITSM_PERSONAL_MARTS_URL": personal_marts_url,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }


def dashboards(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8501, help="TCP port."),
) -> None:
    """Serve the dashboards. They read schema marts as the read-only analyst role (the access
    review, for auditors and admins, as the auditor role) and sign people in against the API at
    ITSM_API_BASE_URL (managers, auditors and admins)."""
    from operational.core.config import get_settings
    from operational.exports.analyst_role import analyst_url, auditor_url

    settings = get_settings()
    # Explicit URLs (e.g. a read replica) win; else enable the read-only roles here.
    marts_url = settings.marts_url or analyst_url(settings)
    personal_marts_url = settings.personal_marts_url or auditor_url(settings)
    console.print(
        f"dashboards: [bold]http://{host}:{port}[/]  (sign-in checked by {settings.api_base_url})"
    )
    # Become Streamlit (exec), so that signals reach it directly and no parent lingers.
    command = streamlit_command(host=host, port=port)
    sys.stdout.flush()
    os.execve(command[0], command, dashboards_environment(marts_url, personal_marts_url))
