"""How the event log reads over the API: one record's history (incident timeline, CI and change
history)."""

from datetime import datetime
from typing import Any

from operational.core.pagination import Page
from operational.core.schemas import ReadModel


class EventRead(ReadModel):
    """One event of a record's history, as the event log holds it."""

    seq: int
    occurred_at: datetime
    recorded_at: datetime
    kind: str
    field: str | None
    old_value: str | None
    new_value: str | None
    data: dict[str, Any] | None
    actor_id: int | None
    actor_label: str | None
    source_system: str
    synthesized: bool


EventPage = Page[EventRead]
