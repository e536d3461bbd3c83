"""How values look on the pages: dates, states and SLA clocks (text and a symbol, never colour
alone, so that each state reads the same to a colour-blind person or a screen reader)."""

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

# state → (symbol, words). The symbol is decoration (aria-hidden); the words carry the meaning.
CLOCK = {
    "running": ("◷", "due"),
    "paused": ("⏸", "paused"),
    "breached": ("⚠", "breached"),
    "met": ("✓", "met"),
    "cancelled": ("-", "cancelled"),
    "error": ("?", "no calendar"),
}


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def when(value: Any) -> str:
    moment = parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def span(minutes: float) -> str:
    minutes = int(abs(minutes))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def clock(timer: dict[str, Any] | None, now: datetime | None = None) -> dict[str, str]:
    """One SLA timer as the row shows it: state class, symbol and words."""
    if not timer:
        return {"state": "none", "symbol": "", "text": "no SLA"}
    state = timer.get("state", "running")
    symbol, words = CLOCK.get(state, ("?", state))
    text = words
    due = parse_time(timer.get("due_at"))
    if state == "running" and due is not None:
        left = (due - (now or datetime.now(UTC))).total_seconds() / 60
        text = f"due in {span(left)}" if left >= 0 else f"overdue {span(left)}"
    elif state == "breached" and timer.get("breached_at"):
        text = f"breached {when(timer['breached_at'])}"
    return {"state": state, "symbol": symbol, "text": text}


def first_open_timer(timers: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The timer a queue row shows: a breached one first, then the one falling due soonest."""
    timers = timers or []
    for state in ("breached", "running", "paused"):
        chosen = [timer for timer in timers if timer.get("state") == state]
        if chosen:
            return min(chosen, key=lambda timer: str(timer.get("due_at") or "9999"))
    return None


def label(value: Any) -> str:
    return str(value or "—").replace("_", " ")


def zip_label(values: Any) -> list[tuple[str, str]]:
    return [(str(value), label(value)) for value in values]


def team_options(teams: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(team["id"]), team["name"]) for team in teams]


def install(environment: Environment) -> None:
    environment.filters.update(
        when=when,
        clock=clock,
        label=label,
        span=span,
        zip_label=zip_label,
        team_options=team_options,
    )
    environment.globals.update(first_open_timer=first_open_timer)
