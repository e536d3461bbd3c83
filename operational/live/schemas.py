from operational.events.schemas import EventRead


class LiveEvent(EventRead):
    """One event as the stream sends it (the SSE ``data``): the event log's row, with the
    record it belongs to (``event:`` is its type; ``id:`` the event's id)."""

    id: int
    entity_type: str
    entity_id: int
    number: str | None = None  # the ticket's number, for incidents
