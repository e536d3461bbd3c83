"""How the event log reads over the API: one record's history (incident timeline, CI and change
history)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from operational.core.pagination import Page


class EventRead(BaseModel):
    """One event of a record's history, as the event log holds it."""

    model_config = ConfigDict(from_attributes=True)

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
