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


def _pairs(given: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for text in given:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{option} takes NAME=VALUE, got {text!r}")
        pairs.append((name.strip(), value))
    return pairs


def _value(text: str) -> Any:
    """A --set value: JSON when it reads as JSON (17, null, true), else the text itself."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def _filter(given: list[str]) -> dict[str, Any]:
    """--where pairs as the list's filters: repeated or list-valued names become lists."""
    import typing

    from operational.bulk.schemas import IncidentSelection

    found: dict[str, Any] = {}
    for name, value in _pairs(given, "--where"):
        field = IncidentSelection.model_fields.get(name)
        if field is not None and typing.get_origin(field.annotation) is list:
            found.setdefault(name, []).append(value)
        else:
            found[name] = value
    return found


@app.command()
def bulk(
    actor_email: str = typer.Option(
        ..., "--as", metavar="EMAIL", help="Whose update it is: it runs with their permissions."
    ),
    ids: str | None = typer.Option(
        None, "--ids", help="Comma-separated incident numbers or ids (or use --where)."
    ),
    where: list[str] = typer.Option(
        [],
        "--where",
        metavar="NAME=VALUE",
        help="A filter of GET /incidents, e.g. state=new (repeat for several values or names).",
    ),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="NAME=VALUE",
        help="A field as PATCH /incidents/{id} takes it, e.g. state=resolved or assignee_id=17 "
        "(values read as JSON when they are: 17, null; else as text).",
    ),
    comment: str | None = typer.Option(None, "--comment", help="A comment for each change."),
    work_note: bool = typer.Option(False, "--work-note", help="The comment is a work note."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count and list; change nothing."),
) -> None:
    """Apply one update to many incidents, record by record as the API's bulk update does
    (docs/bulk.md), with a progress bar; exits 1 when any record failed.

    Examples:

      itsm incident bulk --as ada@example.com --where state=new --where category=Network
        --set assignee_id=17 --comment "Backlog sweep" --work-note --dry-run

      itsm incident bulk --as ada@example.com --ids INC0000101,INC0000102
        --set state=resolved --set resolution_code=solved_permanently
        --set resolution_notes="VPN concentrator restarted"
    """
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from operational.auth import service as auth_service
    from operational.auth.permissions import has_permission
    from operational.bulk import flows as bulk_flows
    from operational.bulk import service as bulk_service
    from operational.bulk.enums import Outcome
    from operational.bulk.schemas import IncidentBulkRequest
    from operational.core.db import session_scope
    from operational.core.errors import DomainError
    from operational.core.pagination import PageParams

    body: dict[str, Any] = {"dry_run": dry_run, "background": True}
    if ids is not None:
        body["ids"] = [item.strip() for item in ids.split(",") if item.strip()]
    if where:
        body["filter"] = _filter(where)
    if set_:
        body["update"] = {name: _value(value) for name, value in _pairs(set_, "--set")}
    if comment is not None:
        body["comment"] = {"body": comment, "is_public": not work_note}
    try:
        request = IncidentBulkRequest.model_validate(body)
    except ValidationError as exc:
        for error in exc.errors():
            where_ = ".".join(str(part) for part in error["loc"]) or "request"
            err_console.print(f"[red]invalid[/] {where_}: {error['msg']}")
        raise typer.Exit(2) from None
    try:
        with session_scope() as session:
            actor = auth_service.get_by_email(session=session, email=actor_email)
            if actor is None or not actor.is_active:
                raise typer.BadParameter(f"no active account {actor_email!r}", param_hint="--as")
            if not has_permission(actor, "incident:write"):
                err_console.print(f"[red]refused[/]: {actor_email} may not update incidents")
                raise typer.Exit(1)
            submitted = bulk_flows.submit_incidents(session=session, actor=actor, request=request)
            if isinstance(submitted, bulk_flows.Preview):
                console.print(
                    f"{submitted.matched} incidents match (at most {submitted.max_records} "
                    "per call); nothing was changed"
                )
                if submitted.not_found:
                    console.print(f"not found: {', '.join(submitted.not_found)}")
                return
            job_id, total = submitted.id, submitted.total
    except DomainError as exc:
        err_console.print(f"[red]refused[/]: {exc.detail}")
        raise typer.Exit(1) from None

    progress = Progress(
        TextColumn(f"bulk job {job_id}"), BarColumn(), MofNCompleteColumn(), console=err_console
    )
    with progress:
        task = progress.add_task("records", total=total)
        while True:
            with session_scope() as session:
                step = bulk_flows.work_on(session=session, job_id=job_id, limit=50)
            if step is None:  # a worker holds the job now: it carries on
                break
            progress.advance(task, step.processed)
            if step.finished:
                break
    with session_scope() as session:
        job = bulk_service.get_job(session=session, job_id=job_id)
        console.print(
            f"bulk job {job.id} {job.status}: {job.updated} updated, {job.skipped} skipped, "
            f"{job.failed} failed of {job.total} (GET /api/v1/bulk-jobs/{job.id})"
        )
        failed = bulk_service.results(
            session=session, job=job, params=PageParams(size=500), outcome=Outcome.failed
        ).items
        if failed:
            table = Table("incident", "status", "problem", title="failed")
            for item in failed:
                problem = item.problem or {}
                table.add_row(
                    item.number or item.reference,
                    str(problem.get("status", "")),
                    str(problem.get("detail", "")),
                )
            console.print(table)
        if job.failed:
            raise typer.Exit(1)
