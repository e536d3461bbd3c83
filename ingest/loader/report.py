"""What a load did: counts per entity, the rows it refused, and the rejects files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.parsed import ParsedExport
from ingest.rejects import write_rejects_csv, write_rejects_json


@dataclass
class EntityCounts:
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0  # rows the database state rules out (a cycle, a self-approval): rejects

    def add(self, other: EntityCounts) -> None:
        self.loaded += other.loaded
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.refused += other.refused


@dataclass
class LoadReport:
    source: str
    source_system: str
    path: Path
    dry_run: bool
    rows_read: int
    parse_rejected: int
    parse_skipped: int
    counts: dict[str, EntityCounts] = field(default_factory=dict)
    batches: int = 0
    # Processes that loaded the ticket batches (1: all in the calling process).
    workers: int = 1
    run_id: int | None = None
    rejects_path: Path | None = None
    incident_ids: list[int] = field(default_factory=list)
    # Rows refused while loading, as rejects whose `_row` is the row's index in its frame.
    refusals: list[pl.DataFrame] = field(default_factory=list)
    # Replay against the source's own figures, per field (ingest/reconcile.py).
    reconciliation: dict = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        """Rows rejected by the parser plus rows refused by the loader."""
        return self.parse_rejected + sum(count.refused for count in self.counts.values())

    @property
    def loaded(self) -> int:
        return sum(count.loaded for count in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(count.updated for count in self.counts.values())

    @property
    def skipped(self) -> int:
        """Rows left out on purpose by the parser plus records already present, unchanged."""
        return self.parse_skipped + sum(count.unchanged for count in self.counts.values())

    def summary(self) -> dict[str, int]:
        return {
            "read": self.rows_read,
            "loaded": self.loaded,
            "updated": self.updated,
            "rejected": self.rejected,
            "skipped": self.skipped,
        }


# The frames of `LoadReport.refusals`.
REFUSAL_SCHEMA = {
    "entity": pl.String(),
    "_row": pl.Int64(),
    "column": pl.String(),
    "reason": pl.String(),
    "value": pl.String(),
    "external_id": pl.String(),
    "detail": pl.String(),
}


def refuse(
    session: Session,
    report: LoadReport,
    *,
    entity: str,
    rows_sql: str,
    column: str,
    reason: str,
    detail: str,
) -> int:
    """Record as rejects the staged rows `rows_sql` selects (as `_row, value, external_id`)."""
    rows = session.execute(text(rows_sql)).all()
    if rows:
        found = pl.DataFrame(
            [tuple(row) for row in rows],
            schema={"_row": pl.Int64, "value": pl.String, "external_id": pl.String},
            orient="row",
        )
        report.refusals.append(
            found.select(
                pl.lit(entity).alias("entity"),
                "_row",
                pl.lit(column).alias("column"),
                pl.lit(reason).alias("reason"),
                "value",
                "external_id",
                pl.lit(detail).alias("detail"),
            )
        )
    return len(rows)


def write_rejects(found: pl.DataFrame, path: Path, directory: Path) -> Path | None:
    """Write `<file>.rejects.csv` and `.json` beside each other; None when nothing was rejected."""
    if not found.height:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    stem = Path(path).name
    write_rejects_json(found, directory / f"{stem}.rejects.json")
    return write_rejects_csv(found, directory / f"{stem}.rejects.csv")


def all_rejects(parsed: ParsedExport, report: LoadReport) -> pl.DataFrame:
    """The parser's rejects and the loader's refusals, the latter at their source line."""
    if not report.refusals:
        return parsed.rejects
    refused = []
    for (entity,), rows in pl.concat(report.refusals).group_by("entity", maintain_order=True):
        lines = parsed.lines.get(entity)
        line = (
            lines.cast(pl.Int64).gather(rows.get_column("_row"))
            if lines is not None
            else pl.Series(values=[None] * rows.height, dtype=pl.Int64)
        )
        refused.append(
            rows.select(
                pl.lit(Path(parsed.path).name).alias("file"),
                pl.lit(line).alias("line"),
                pl.col("column").replace(parsed.source_columns),
                "reason",
                "value",
                "external_id",
                "detail",
            )
        )
    return pl.concat([parsed.rejects, *refused]).sort("line", "column", nulls_last=True)
