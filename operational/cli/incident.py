"""``itsm incident``: look at one incident from the command line, now or at a past instant."""

from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Look at incidents (uses the configured database).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time; e.g. 2026-03-02T10:00Z or '2026-03-02 10:00'"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _minutes(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def _current(session: Any, incident: Any) -> dict[str, Any]:
    """The incident as it is now: its row and its stored timers, in the as-of shape."""
    from operational.sla import timers as sla_timers

    timers = []
    for timer in sla_timers.timers_for(session=session, incident_id=incident.id):
        failed = timer.state == "error"
        timers.append(
            {
                "target": timer.target,
                "policy_name": timer.policy_name,
                "state": timer.state,
                "target_minutes": timer.target_minutes,
                "elapsed_minutes": timer.elapsed_minutes,
                "paused_minutes": timer.paused_minutes,
                "remaining_minutes": None
                if failed
                else max(0.0, timer.target_minutes - timer.elapsed_minutes),
                "breached": not failed and timer.elapsed_minutes > timer.target_minutes,
                "due_at": timer.due_at,
                "error": timer.error,
            }
        )
    return {
        "number": incident.number,
        "state": incident.state,
        "hold_reason": incident.hold_reason,
        "priority": incident.priority,
        "assignment_group": incident.assignment_group.name if incident.assignment_group else None,
        "assignee": incident.assignee.display_name if incident.assignee else None,
        "sla_timers": timers,
    }


def _print(shown: dict[str, Any], heading: str) -> None:
    console.print(f"[bold]{shown['number']}[/] {heading}")
    state = shown["state"] + (f" ({shown['hold_reason']})" if shown["hold_reason"] else "")
    console.print(f"  state     {state}")
    console.print(f"  priority  P{shown['priority']}" if shown["priority"] else "  priority  -")
    console.print(f"  team      {shown['assignment_group'] or '-'}")
    console.print(f"  assignee  {shown['assignee'] or '-'}")
    if not shown["sla_timers"]:
        console.print("  SLA       no policy applies")
        return
    table = Table(
        "target",
        "policy",
        "state",
        "target min",
        "elapsed",
        "paused",
        "remaining",
        "breached",
        "due",
        title="SLA timers (business minutes)",
    )
    for timer in shown["sla_timers"]:
        table.add_row(
            str(timer["target"]),
            timer["policy_name"],
            str(timer["state"]) + (f": {timer['error']}" if timer["error"] else ""),
            str(timer["target_minutes"]),
            _minutes(timer["elapsed_minutes"]),
            _minutes(timer["paused_minutes"]),
            _minutes(timer["remaining_minutes"]),
            "yes" if timer["breached"] else "no",
            _time(timer["due_at"]),
        )
    console.print(table)


@app.command()
def show(
    number: str = typer.Argument(..., help="The incident's number (INC0001234) or id."),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        metavar="TIMESTAMP",
        help="Show the incident as it was at this instant (ISO 8601, e.g. 2026-03-02T10:00Z; "
        "without a zone it is UTC): a replay of its event log up to then, with the SLA "
        "policies and calendars in force then. Not before it was opened, not in the future.",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the API's as-of response as JSON (without --as-of: as of now).",
    ),
) -> None:
    """Show an incident's state, priority, team, assignee and SLA timers (elapsed, paused,
    remaining, breached): as it is now, or as it was at a past instant with --as-of.

    Examples:

      itsm incident show INC0001234

      itsm incident show INC0001234 --as-of 2026-03-02T10:00Z

      itsm incident show INC0001234 --as-of "2026-03-02 10:00" --json
    """
    from operational.core.db import session_scope
    from operational.core.errors import DomainError
    from operational.incidents import history, service
    from operational.incidents.schemas import IncidentAsOfRead

    instant = _instant(as_of) if as_of is not None else None
    try:
        with session_scope() as session:
            incident = service.get_by_reference(session=session, reference=number)
            if instant is None and not as_json:
                shown = _current(session, incident)
                heading = "now"
            else:
                past = history.as_of(
                    session=session, incident=incident, at=instant or datetime.now(UTC)
                )
                read = IncidentAsOfRead.of(past)
                if as_json:
                    print(read.model_dump_json(indent=2))
                    return
                shown = read.model_dump()
                heading = f"as of {_time(read.at)}"
            _print(shown, heading)
    except DomainError as exc:
        err_console.print(f"[red]refused[/]: {exc.detail}")
        raise typer.Exit(1) from None
