"""The result of parsing one export: canonical frames, rejects and counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import polars as pl

from ingest import schema
from ingest.rejects import empty_rejects, name_file


@dataclass
class ParsedExport:
    source: str  # the source module's name, e.g. "servicenow-audit"
    source_system: str  # the system the tickets came from; part of every key
    path: Path
    rows_read: int = 0
    skipped: int = 0  # rows left out on purpose (exact duplicates, unmapped issue types)
    incidents: pl.DataFrame = field(default_factory=partial(schema.empty, "incidents"))
    events: pl.DataFrame = field(default_factory=partial(schema.empty, "events"))
    changes: pl.DataFrame = field(default_factory=partial(schema.empty, "changes"))
    change_approvals: pl.DataFrame = field(
        default_factory=partial(schema.empty, "change_approvals")
    )
    configuration_items: pl.DataFrame = field(
        default_factory=partial(schema.empty, "configuration_items")
    )
    ci_relationships: pl.DataFrame = field(
        default_factory=partial(schema.empty, "ci_relationships")
    )
    csat: pl.DataFrame = field(default_factory=partial(schema.empty, "csat"))
    problems: pl.DataFrame = field(default_factory=partial(schema.empty, "problems"))
    requests: pl.DataFrame = field(default_factory=partial(schema.empty, "requests"))
    request_items: pl.DataFrame = field(default_factory=partial(schema.empty, "request_items"))
    request_tasks: pl.DataFrame = field(default_factory=partial(schema.empty, "request_tasks"))
    request_approvals: pl.DataFrame = field(
        default_factory=partial(schema.empty, "request_approvals")
    )
    request_events: pl.DataFrame = field(default_factory=partial(schema.empty, "request_events"))
    rejects: pl.DataFrame = field(default_factory=empty_rejects)
    # Source line of each row of a canonical frame, by entity, where the source knows it: lets
    # the loader report a row it refuses (a cycle, a self-approval) at its line.
    lines: dict[str, pl.Series] = field(default_factory=dict)
    # Source column of each canonical field, where the source maps them one to one.
    source_columns: dict[str, str] = field(default_factory=dict)
    # Splits a multi-choice custom field's source text into its options.
    list_separator: str = ";"

    def __post_init__(self) -> None:
        self.rejects = name_file(self.rejects, Path(self.path).name)

    @property
    def rejected(self) -> int:
        """Rejected source rows (a row with two bad columns counts once)."""
        if not self.rejects.height:
            return 0
        return self.rejects.select(pl.struct("file", "line").n_unique()).item()

    def frames(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in schema.ENTITIES}
