"""``itsm pipelines``: the Dagster pipelines (inbox import, dbt marts, compliance exports)."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Run the pipelines once, or keep their schedules and sensors running.",
    no_args_is_help=True,
)
console = Console()


def prepare_environment() -> dict[str, str]:
    """Start (or find) the database, migrate it, and export the pipelines' environment."""
    from operational.core.config import get_settings
    from operational.core.migrate import upgrade
    from pipelines.environment import pipeline_environment

    upgrade()  # as the administrative role; the pipelines then run as the runtime role
    environment = pipeline_environment(get_settings())
    os.environ.update(environment)
    return environment


def _executable(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise typer.BadParameter(f"{name} is not installed in this environment")
    return found


def dagster_command(*arguments: str) -> list[str]:
    from pipelines.environment import WORKSPACE_FILE

    program, *rest = arguments
    return [_executable(program), *rest, "-w", str(WORKSPACE_FILE)]


def spawn_daemon(*, new_session: bool = False) -> subprocess.Popen:
    """Start ``dagster-daemon run`` in the background (schedules, sensors, freshness).

    ``new_session``: out of the terminal's process group, so that Ctrl-C reaches only the
    parent, which then stops the daemon itself (as ``itsm up`` does).
    """
    from pipelines.environment import REPOSITORY_ROOT

    environment = prepare_environment()
    return subprocess.Popen(
        dagster_command("dagster-daemon", "run"),
        env={**os.environ, **environment},
        cwd=REPOSITORY_ROOT,
        start_new_session=new_session,
    )


def run_once(*, verbose: bool = False, full_refresh: bool = False) -> bool:
    """Materialize every asset once, in this process; print a summary. True on success.

    Without ``verbose``, Dagster's and dbt's output goes to ``$DAGSTER_HOME/last-run.log``.
    """
    import dagster as dg

    from pipelines.run import materialize_everything

    with console.status("preparing the database and the dbt project"):
        environment = prepare_environment()
        from pipelines.definitions import defs
    log_path = Path(environment["DAGSTER_HOME"]) / "last-run.log"
    with (
        console.status("materializing: inbox import, dbt build, compliance exports"),
        nullcontext() if verbose else _output_to(log_path),
    ):
        summary = materialize_everything(
            instance=dg.DagsterInstance.get(),
            log_level="INFO" if verbose else "WARNING",
            defs=defs,
            full_refresh=full_refresh,
        )
    _print_summary(summary, log_path=None if verbose else log_path)
    return summary.success


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Dagster's and dbt's output) to ``path``."""
    with path.open("w") as log, redirect_stdout(log), redirect_stderr(log):
        yield


def _print_summary(summary, *, log_path: Path | None) -> None:
    table = Table(title=f"pipelines run {summary.run_id[:8]} ({summary.seconds:.1f} s)")
    table.add_column("group")
    table.add_column("materialized", justify="right")
    table.add_column("detail")
    per_group = summary.materialized_per_group()
    for group in sorted({key.split("/")[0] for key in summary.planned}):
        details = []
        for key, metadata in summary.materialized.items():
            if not key.startswith(f"{group}/") and key != group:
                continue
            if "files_imported" in metadata:
                details.append(f"{metadata['files_imported']} inbox file(s) imported")
            if metadata.get("files_failed"):
                details.append(f"[red]{metadata['files_failed']} could not be imported[/]:")
                details.extend(f"  {path}" for path in metadata["failed_files"])
            if "folder" in metadata:
                details.append(f"{key.split('/')[-1]}: {metadata['folder']}")
        planned = sum(1 for key in summary.planned if key.split("/")[0] == group)
        count = f"{per_group.get(group, 0)}/{planned}"
        style = "green" if per_group.get(group, 0) == planned else "red"
        table.add_row(group, f"[{style}]{count}[/]", "\n".join(details))
    console.print(table)

    passed = sum(1 for check in summary.checks if check.passed)
    console.print(f"checks: [green]{passed} passed[/], ", end="")
    console.print(
        f"[{'red' if summary.failed_checks else 'green'}]{len(summary.failed_checks)} failed[/]"
    )
    for check in summary.failed_checks:
        console.print(f"  [red]✗[/] {check.asset} {check.name} ({check.severity})")
    for failure in summary.failures:
        console.print(f"[red]failed[/] {failure}")
    if summary.success:
        console.print("[green]all assets materialized[/]")
    else:
        where = f"the log is in {log_path}" if log_path else "see the log above"
        console.print(f"[red]the run failed[/]; {where}")


@app.command()
def run(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Dagster and dbt logs."),
    full_refresh: bool = typer.Option(
        False,
        "--full-refresh",
        help="Rebuild the incremental models from all history (after changing a definition, "
        "or once after an upgrade); without it only what is new is added.",
    ),
) -> None:
    """Materialize everything once, in this process: inbox import, dbt build, exports."""
    from operational.cli.db import ensure_schema

    ensure_schema()
    if not run_once(verbose=verbose, full_refresh=full_refresh):
        raise typer.Exit(1)


def _replace_process_with(command: list[str]) -> None:
    """Become ``command`` (signals such as Ctrl-C then reach Dagster directly)."""
    from pipelines.environment import REPOSITORY_ROOT

    os.chdir(REPOSITORY_ROOT)
    os.execve(command[0], command, os.environ.copy())


@app.command()
def ui(
    host: str = typer.Option("127.0.0.1", help="Interface for the Dagster UI."),
    port: int = typer.Option(3000, help="Port of the Dagster UI."),
) -> None:
    """Start the Dagster UI (dagster dev, with its own daemon) with DAGSTER_HOME in ITSM_HOME."""
    environment = prepare_environment()
    console.print(
        f"Dagster UI on http://{host}:{port} (DAGSTER_HOME {environment['DAGSTER_HOME']})"
    )
    _replace_process_with(dagster_command("dagster", "dev", "-h", host, "-p", str(port)))


@app.command()
def daemon() -> None:
    """Keep the schedules and sensors running (dagster-daemon), without the UI."""
    environment = prepare_environment()
    console.print(f"dagster-daemon (DAGSTER_HOME {environment['DAGSTER_HOME']}); Ctrl-C stops it")
    _replace_process_with(dagster_command("dagster-daemon", "run"))
