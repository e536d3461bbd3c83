"""What a ticket's response shows from the domains above the ticket domains, without those
ticket domains importing them:

- suggestions: the knowledge articles and known errors that best match a ticket's text, shown
  when the ticket is created or its title changes (the knowledge base provides them);
- the known error behind a ticket: its workaround, for agents (problems provide it).

The application registers the providers at start-up (``operational/main.py``). The incident
and request routers ask for them (a request on create, over its ordered items' names and its
justification). With no provider registered (a worker, a script), both
answer None and the response leaves the fields out.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Suggestion(BaseModel):
    kind: str = Field(description="article or known_error")
    id: int = Field(description="The article's or the problem's id")
    number: str
    title: str
    snippet: str | None = Field(
        None, description="Where it matches, as HTML: escaped text, matches in <mark>"
    )
    rank: float
    url: str


class KnownErrorHint(BaseModel):
    problem_id: int
    number: str
    title: str
    workaround: str
    known_error_at: datetime


# (session, viewer, text) -> suggestions; (session, viewer, problem_id) -> hint or None
Suggester = Callable[[Any, Any, str], list[Suggestion]]
WorkaroundLookup = Callable[[Any, Any, int], KnownErrorHint | None]

_suggesters: list[Suggester] = []
_workarounds: list[WorkaroundLookup] = []


def register(
    *, suggest: Suggester | None = None, workaround: WorkaroundLookup | None = None
) -> None:
    """Install the providers (again: replaces them)."""
    _suggesters[:] = [suggest] if suggest else []
    _workarounds[:] = [workaround] if workaround else []


def ticket_text(title: str | None, description: str | None) -> str:
    return " ".join(part for part in (title, description) if part)


def suggest(*, session: Any, viewer: Any, text: str) -> list[Suggestion] | None:
    if not _suggesters or not text.strip():
        return None
    return _suggesters[0](session, viewer, text)


def workaround(*, session: Any, viewer: Any, problem_id: int | None) -> KnownErrorHint | None:
    if not _workarounds or problem_id is None:
        return None
    return _workarounds[0](session, viewer, problem_id)
