from enum import StrEnum


class RecordType(StrEnum):
    """The records a bulk job updates."""

    incident = "incident"
    change = "change"


class JobStatus(StrEnum):
    """queued (waiting for the worker) → running → done; failed: the job itself stopped (its
    records' own failures are outcomes, not this)."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Outcome(StrEnum):
    """What the job did to one record."""

    updated = "updated"
    skipped = "skipped"  # nothing to change (e.g. already in that state), or listed twice
    failed = "failed"  # refused: its problem (403, 404, 409, 412, 422, ...) says why
