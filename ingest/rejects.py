"""Rejected rows: where (line, column), why (reason code and detail), and writers for the report.

`file` is the file the row came from (an import can read a companion history file), `line` is
the physical line for CSV files (the header is line 1) and the 1-based record number
for JSON and Parquet files. `column` names the source column (a JSON path for nested sources).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

# Reason codes; `detail` carries the human sentence.
MISSING_KEY = "missing_key"
MISSING_VALUE = "missing_value"
BAD_DATE = "bad_date"
UNKNOWN_STATE = "unknown_state"
UNKNOWN_VALUE = "unknown_value"
BAD_NUMBER = "bad_number"
TOO_LONG = "too_long"  # longer than its column may hold (ingest/limits.py)
# Found by the loader, against what the database holds (the row is not loaded):
UNKNOWN_REFERENCE = "unknown_reference"  # a change or CI the row names is not in the database
SELF_APPROVAL = "self_approval"  # a CAB decision by the change's own requester or implementer
CYCLE = "cycle"  # a relationship that would close a loop where its type forbids one
INVALID_ATTRIBUTES = "invalid_attributes"  # CI attributes that break their class's schema
# A custom field value its definition refuses, or a field not defined (docs/custom-fields.md)
INVALID_CUSTOM_FIELD = "invalid_custom_field"
REASONS = (
    MISSING_KEY,
    MISSING_VALUE,
    BAD_DATE,
    UNKNOWN_STATE,
    UNKNOWN_VALUE,
    BAD_NUMBER,
    TOO_LONG,
    UNKNOWN_REFERENCE,
    SELF_APPROVAL,
    CYCLE,
    INVALID_ATTRIBUTES,
)

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "column": pl.String(),
    "reason": pl.String(),
    "value": pl.String(),
    "external_id": pl.String(),
    "detail": pl.String(),
}


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def rejects_where(
    frame: pl.DataFrame,
    condition: pl.Expr,
    *,
    column: str,
    reason: str,
    value: pl.Expr,
    detail: str,
    line: str = "_line",
    external_id: str | pl.Expr = "_external_id",
) -> pl.DataFrame:
    """One reject per row of `frame` where `condition` holds (vectorized)."""
    external = pl.col(external_id) if isinstance(external_id, str) else external_id
    return frame.filter(condition).select(
        pl.lit(None, pl.String).alias("file"),
        pl.col(line).cast(pl.Int64).alias("line"),
        pl.lit(column, pl.String).alias("column"),
        pl.lit(reason, pl.String).alias("reason"),
        value.cast(pl.String).alias("value"),
        external.cast(pl.String).alias("external_id"),
        pl.lit(detail, pl.String).alias("detail"),
    )


def combine(parts: list[pl.DataFrame]) -> pl.DataFrame:
    parts = [part for part in parts if part.height]
    if not parts:
        return empty_rejects()
    # One reject per (line, column): a missing key is not also a missing value.
    return (
        pl.concat(parts)
        .unique(subset=["line", "column"], keep="first", maintain_order=True)
        .sort("line", "column", maintain_order=True)
    )


def name_file(found: pl.DataFrame, name: str) -> pl.DataFrame:
    """Fill in the file name of rejects that do not name one yet."""
    return found.with_columns(pl.col("file").fill_null(name))


def write_rejects_csv(rejects: pl.DataFrame, path: Path) -> Path:
    rejects.select(list(REJECT_SCHEMA)).write_csv(path)
    return path


def write_rejects_json(rejects: pl.DataFrame, path: Path) -> Path:
    """A JSON array of reject objects (one per line and column)."""
    rejects.select(list(REJECT_SCHEMA)).write_json(path)
    return path


DEFAULT_MAX_REJECT_RATE = 0.05


def rate_failure(
    found: pl.DataFrame,
    *,
    file_name: str,
    rows_read: int,
    max_rate: float,
    limit_name: str = "--max-reject-rate",
) -> str | None:
    """Why an import with these rejects must fail, in one line, or None.

    It fails when it rejects every row it read, or more than `max_rate` (a fraction) of the rows
    of its main file (`file_name`; a companion history file's rejects leave their ticket out,
    they are not counted here). The line names the most frequent reason, column and a value.
    """
    if not rows_read or not found.height:
        return None
    own = found.filter(pl.col("file").eq(file_name)) if "file" in found.columns else found
    rejected = own.select(pl.col("line").n_unique()).item() if own.height else 0
    rate = rejected / rows_read
    if rejected < rows_read and rate <= max_rate:
        return None
    top = (
        own.group_by("reason", "column")
        .agg(pl.len().alias("n"), pl.col("value").drop_nulls().first().alias("value"))
        .sort("n", "reason", "column", descending=[True, False, False])
        .row(0, named=True)
    )
    example = f" such as {top['value']!r}" if top["value"] is not None else ""
    limit = "every row" if rejected == rows_read else f"more than {limit_name} {max_rate:.0%}"
    return (
        f"{rejected:,} of {rows_read:,} rows rejected ({rate:.1%}, {limit}); "
        f"most often {top['reason']} in {top['column']} ({top['n']:,} rows){example}"
    )
