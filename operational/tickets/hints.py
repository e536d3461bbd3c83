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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from operational.core.db import read_connection


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


# (session, viewer, text) -> suggestions
Suggester = Callable[[Any, Any, str], list[Suggestion]]
Statement = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class WorkaroundSource:
    """How the known error behind a ticket is read: one statement (psycopg's parameter style)
    for a viewer and a problem (None: the viewer does not see known errors), and the hint its
    row gives (None: no published known error). A statement, so that a read on a connection of
    its own (the incidents' fast reads) asks the same question as one in a session."""

    statement: Callable[[Any, int], Statement | None]
    hint: Callable[[Any], KnownErrorHint | None]


_suggesters: list[Suggester] = []
_workarounds: list[WorkaroundSource] = []


def register(
    *, suggest: Suggester | None = None, workaround: WorkaroundSource | None = None
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


def workaround_statement(*, viewer: Any, problem_id: int | None) -> Statement | None:
    """The statement that reads the known error behind a ticket for this viewer; None when
    there is nothing to read (no provider, no problem, a viewer who does not see them)."""
    if not _workarounds or problem_id is None:
        return None
    return _workarounds[0].statement(viewer, problem_id)


def workaround_of(row: Any) -> KnownErrorHint | None:
    """The hint a ``workaround_statement`` row gives."""
    return _workarounds[0].hint(row) if _workarounds else None


def workaround(*, session: Any, viewer: Any, problem_id: int | None) -> KnownErrorHint | None:
    statement = workaround_statement(viewer=viewer, problem_id=problem_id)
    if statement is None:
        return None
    return workaround_of(read_connection(session).exec_driver_sql(*statement).first())
