"""Vectorized helpers shared by the sources: reading, cleaning, dates, coded values, value maps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from ingest import rejects
from ingest.exceptions import FormatError
from ingest.schema import UTC_DATETIME

LINE = "_line"


def read_csv_text(
    path: Path,
    *,
    expected: str,
    required_columns: Iterable[str],
    separator: str = ",",
    null_values: Sequence[str] = (),
    encoding: str = "utf8",
    only: Iterable[str] | None = None,
) -> pl.DataFrame:
    """Read a CSV with every column as text and a `_line` column (header is line 1); with
    `only`, just those of its columns that the file has (reading less is faster).

    Raises FormatError, having read nothing, if the file is not CSV or lacks a required column.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as error:
        raise FormatError(path, expected, f"cannot be read ({error.strerror})") from error
    if b"\x00" in head:
        raise FormatError(path, expected, "it is binary, not CSV text")
    options = {
        "infer_schema": False,
        "separator": separator,
        "null_values": list(null_values) or None,
        "encoding": encoding,
    }
    try:
        header = pl.read_csv(path, n_rows=0, **options).columns
        require_columns(header, required_columns, path=path, expected=expected)
        frame = pl.read_csv(
            path,
            columns=header if only is None else [name for name in header if name in set(only)],
            row_index_name=LINE,
            row_index_offset=2,
            truncate_ragged_lines=False,
            **options,
        )
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as error:
        raise FormatError(path, expected, f"it cannot be read as CSV ({error})") from error
    return frame.with_columns(pl.col(LINE).cast(pl.Int64))


def require_columns(
    columns: Iterable[str], required: Iterable[str], *, path: Path, expected: str
) -> None:
    present = set(columns)
    missing = [name for name in required if name not in present]
    if missing:
        raise FormatError(path, expected, f"missing column(s) {', '.join(missing)}")


def clean(expr: pl.Expr, null_tokens: Sequence[str] = ()) -> pl.Expr:
    """Trim text; empty strings and `null_tokens` become null."""
    return expr.cast(pl.String).str.strip_chars().replace(["", *null_tokens], None)


def timestamp(expr: pl.Expr, formats: Sequence[str], timezone: str = "UTC") -> pl.Expr:
    """Parse text with the first matching strftime format; naive values are in `timezone`.

    The result is UTC. A local time that does not exist (DST gap) parses to null, i.e. a
    bad date; an ambiguous one (DST overlap) takes the earlier instant.
    """
    candidates = []
    for fmt in formats:
        if "%z" in fmt or "%:z" in fmt or "%#z" in fmt:
            candidates.append(expr.str.strptime(UTC_DATETIME, fmt, strict=False))
        else:
            naive = expr.str.strptime(pl.Datetime("us"), fmt, strict=False)
            candidates.append(
                naive.dt.replace_time_zone(
                    timezone, ambiguous="earliest", non_existent="null"
                ).dt.convert_time_zone("UTC")
            )
    return pl.coalesce(candidates) if len(candidates) > 1 else candidates[0]


def lookup(expr: pl.Expr, mapping: Mapping[str, object], dtype: pl.DataType) -> pl.Expr:
    """Case-insensitive value map; values not in the map become null."""
    lowered = {str(key).strip().lower(): value for key, value in mapping.items()}
    return (
        expr.str.strip_chars()
        .str.to_lowercase()
        .replace_strict(list(lowered), list(lowered.values()), default=None, return_dtype=dtype)
    )


def coded(expr: pl.Expr, labels: Mapping[str, int], allowed: Sequence[int]) -> pl.Expr:
    """ServiceNow coded values: `2 - Medium` or `2` gives 2; a bare label goes through `labels`."""
    number = expr.str.extract(r"^\s*(\d+)\s*(?:-|$)", 1).cast(pl.Int8, strict=False)
    number = pl.when(number.is_in(list(allowed))).then(number).otherwise(None)
    return pl.coalesce(number, lookup(expr, labels, pl.Int8()))


def per_distinct(
    frame: pl.DataFrame, column: str, build: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType
) -> pl.Expr:
    """`build(pl.col(column))`, computed once per distinct value of `column` and mapped back:
    for the few values of a coded column in a file of millions of rows. Null stays null."""
    values = frame.get_column(column).drop_nulls().unique()
    results = pl.DataFrame({column: values}).select(build(pl.col(column))).to_series()
    return pl.col(column).replace_strict(values, results, default=None, return_dtype=dtype)


# The spellings of a boolean that exports and spreadsheets write (matched case-insensitively):
# TRUE/FALSE, true/false, t/f, yes/no, y/n, 1/0 (also 1.0/0.0 and -1, a spreadsheet's TRUE).
BOOLEANS = {
    **dict.fromkeys(("true", "t", "yes", "y", "1", "1.0", "-1", "on"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0", "0.0", "off"), False),
}


def boolean(expr: pl.Expr) -> pl.Expr:
    return lookup(expr, BOOLEANS, pl.Boolean())


def integer(expr: pl.Expr, dtype: type[pl.DataType] | pl.DataType = pl.Int32) -> pl.Expr:
    return expr.str.strip_chars().cast(dtype, strict=False)


def unparsed(raw: str, parsed: str) -> pl.Expr:
    """Rows where the source had a value but parsing produced none."""
    return pl.col(raw).is_not_null() & pl.col(parsed).is_null()


def parse_rejects(
    frame: pl.DataFrame, checks: Sequence[tuple[str, str, str, str]], *, external_id: str
) -> pl.DataFrame:
    """Rejects for each (raw column, parsed column, reason, detail) where parsing lost a value."""
    parts = [
        rejects.rejects_where(
            frame,
            unparsed(raw, parsed),
            column=source_column,
            reason=reason,
            value=pl.col(raw),
            detail=detail,
            external_id=external_id,
        )
        for source_column, raw, parsed, reason, detail in (
            (check[0], check[0], check[1], check[2], check[3]) for check in checks
        )
    ]
    return rejects.combine(parts)
