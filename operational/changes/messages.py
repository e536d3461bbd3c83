"""Stakeholder notices of a change (who, what, when, impact), rendered as plain text.

The wording lives in ``templates/<kind>.txt`` (``string.Template``: ``$name`` placeholders), so it
can be edited without touching code. Times are shown in the reader's time zone and in UTC.
"""

from datetime import UTC, datetime
from importlib import resources
from string import Template

from sqlalchemy.orm import Session

from operational.changes import recurrence
from operational.changes import service as changes_service
from operational.changes.enums import ChangeState, NoticeKind
from operational.changes.models import Change
from operational.cmdb.enums import Criticality
from operational.cmdb.models import ConfigurationItem
from operational.core.errors import Conflict

MAX_LISTED_IMPACTED = 10
CLOSINGS = {
    ChangeState.closed: "The change was completed successfully. No action is needed.",
    ChangeState.failed: "The change failed. Follow-up is tracked under the change number.",
    ChangeState.backed_out: "The change was backed out; the services run as before it.",
    ChangeState.cancelled: "The change was cancelled and will not take place.",
}


def _template(kind: NoticeKind) -> Template:
    source = resources.files("operational.changes").joinpath("templates", f"{kind.value}.txt")
    return Template(source.read_text(encoding="utf-8"))


def _when(value: datetime | None, tz_name: str) -> str:
    if value is None:
        return "not set"
    local = value.astimezone(recurrence.zone(tz_name))
    shown = local.strftime("%a %Y-%m-%d %H:%M")
    if tz_name == "UTC":
        return f"{shown} UTC"
    return f"{shown} {tz_name} ({value.astimezone(UTC).strftime('%H:%M')} UTC)"


def _window(start: datetime | None, end: datetime | None, tz_name: str) -> str:
    if start is None or end is None:
        return "not scheduled yet"
    hours = (end - start).total_seconds() / 3600
    return f"{_when(start, tz_name)} to {_when(end, tz_name)} ({hours:g} h)"


def _ci_line(ci: ConfigurationItem, suffix: str = "") -> str:
    criticality = Criticality(ci.criticality).name
    return f"  - {ci.name} ({ci.ci_class.label}, {ci.environment}, {criticality}){suffix}"


def render_notice(
    *, session: Session, change: Change, kind: NoticeKind, timezone: str = "UTC"
) -> str:
    recurrence.zone(timezone)  # refuse an unknown zone before rendering
    if kind == NoticeKind.started and change.actual_start is None:
        raise Conflict(f"{change.number} has not started: no 'started' notice yet")
    if kind == NoticeKind.completed and change.state not in CLOSINGS:
        raise Conflict(f"{change.number} is {change.state}: no 'completed' notice yet")

    affected = [link.ci for link in change.ci_links]
    impacted = changes_service.impacted_cis(session=session, ci_ids=change.ci_ids)
    listed = sorted(impacted, key=lambda ci: (ci.criticality, ci.name))[:MAX_LISTED_IMPACTED]
    more = len(impacted) - len(listed)
    group = change.assignment_group.name if change.assignment_group else "the change team"
    if change.implementer:
        implementer_line = f"{change.implementer.display_name} ({group}) implements it."
    else:
        implementer_line = f"{group} implements it."
    impact_summary = (
        f"{len(affected)} CI(s) change; {len(impacted)} more rely on them."
        if affected
        else "no CIs recorded."
    )
    impacted_text = ""
    if listed:
        impacted_text = "  Relying on them, most critical first:\n" + "\n".join(
            _ci_line(ci) for ci in listed
        )
        if more:
            impacted_text += f"\n  ... and {more} more"
    state = ChangeState(change.state)
    outcome = {
        ChangeState.closed: "completed",
        ChangeState.failed: "failed",
        ChangeState.backed_out: "backed out",
        ChangeState.cancelled: "cancelled",
    }.get(state, state.value)
    risk_level = change.risk_level or "not assessed"
    values = {
        "number": change.number,
        "title": change.title,
        "description": (change.description or "").strip() or "(no description)",
        "change_type": change.change_type,
        "requester": change.requester.display_name if change.requester else "unknown",
        "implementer_line": implementer_line,
        "assignment_group": group,
        "window": _window(change.planned_start, change.planned_end, timezone),
        "actual_start": _when(change.actual_start, timezone),
        "planned_end": _when(change.planned_end, timezone),
        "actual_window": _window(
            change.actual_start or change.planned_start,
            change.actual_end or change.closed_at or change.planned_end,
            timezone,
        ),
        "impact_summary": impact_summary,
        "affected": "\n".join(_ci_line(ci) for ci in affected),
        "impacted": impacted_text,
        "risk": f"{risk_level.replace('_', ' ')} (score {change.risk_score})",
        "backout_plan": (change.backout_plan or "none given").strip(),
        "outcome": outcome,
        "closing": CLOSINGS.get(state, ""),
    }
    text = _template(kind).substitute(values)
    # Empty sections leave blank lines; keep at most one in a row.
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
