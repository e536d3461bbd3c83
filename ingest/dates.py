"""The date format of an export, read from its own values.

ServiceNow writes dates in the exporting user's format (`yyyy-MM-dd`, `dd-MM-yyyy`,
`dd/MM/yyyy`, `MM/dd/yyyy`, `dd.MM.yyyy`, with or without seconds), and a spreadsheet may have
rewritten them. `detect` looks at every date value of a file at once (all its date columns
together) and returns the strftime formats that read them:

- a value whose first part has four digits is year first (`2016-03-01 09:00`);
- otherwise the day comes first when some value's first part is over 12 (`29/2/2016`), the month
  when some value's second part is (`2/29/2016`); when both happen the order that reads more
  values wins and the others become `bad_date` rejects;
- when no value settles it (every first and second part is 12 or less and some differ, as in
  `01/03/2016` alone) the file is **ambiguous** and nothing is guessed: `AmbiguousDateFormat`
  names the `--date-format` option (or a mapping's `date_formats`) that settles it;
- ISO 8601 values with a `T` and an offset (`2016-03-01T09:00:00.000+0100`, `...Z`) are always
  read, whatever else the file holds.

Hours, minutes and seconds may lack leading zeros, seconds and fractions are optional. A
format given by the user (`--date-format`) is used as given, in strftime (`%d-%m-%Y %H:%M`) or
in the ServiceNow/Java spelling (`dd-MM-yyyy HH:mm`), with and without seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from ingest.exceptions import IngestError

# Read in any file: ISO 8601 with a T and an offset or Z.
ISO_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%SZ",
)
_PARTS = (
    r"^\s*(?P<a>\d{1,4})(?P<sep>[-/.])(?P<b>\d{1,2})[-/.](?P<c>\d{2,4})"
    r"(?:(?P<t>[ T])\d{1,2}[:.]\d{2}(?P<secs>[:.]\d{2}(?:[.,]\d+)?)?)?"
)
_ORDERS = {
    "ymd": "%Y{sep}%m{sep}%d",
    "dmy": "%d{sep}%m{sep}%Y",
    "mdy": "%m{sep}%d{sep}%Y",
}
_JAVA_TOKENS = (
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("hh", "%I"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%3f"),
    ("a", "%p"),
    ("M", "%m"),
    ("d", "%d"),
    ("H", "%H"),
)


class AmbiguousDateFormat(IngestError):
    """No value of the file says whether the day or the month comes first."""

    def __init__(self, examples: Sequence[str], where: str) -> None:
        self.examples = list(examples)
        shown = ", ".join(repr(value) for value in self.examples[:3])
        super().__init__(
            f"the dates of {where} could be day-first or month-first (no value has a day over 12, "
            f"e.g. {shown}); say which with --date-format (e.g. --date-format 'dd/MM/yyyy HH:mm' "
            "or 'MM/dd/yyyy HH:mm'), or date_formats in a mapping"
        )


def from_user(given: str | Sequence[str]) -> tuple[str, ...]:
    """strftime formats for what the user gave: strftime as is, or `dd-MM-yyyy HH:mm` spelling;
    each with and without seconds, and the ISO forms."""
    values = [given] if isinstance(given, str) else list(given)
    formats: list[str] = []
    for value in values:
        fmt = value if "%" in value else _java_to_strftime(value)
        formats.append(fmt)
        if "%M" in fmt and "%S" not in fmt:
            formats.append(fmt.replace("%M", "%M:%S", 1))
        elif "%M:%S" in fmt:
            formats.append(fmt.replace("%M:%S", "%M", 1))
    return _unique([*formats, *ISO_FORMATS])


def _java_to_strftime(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        for token, replacement in _JAVA_TOKENS:
            if pattern.startswith(token, index):
                out.append(replacement)
                index += len(token)
                break
        else:
            out.append(pattern[index])
            index += 1
    return "".join(out)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _with_times(date_format: str, time_separator: str) -> list[str]:
    return [
        f"{date_format}{time_separator}%H:%M:%S%.f",
        f"{date_format}{time_separator}%H:%M:%S",
        f"{date_format}{time_separator}%H:%M",
        date_format,
    ]


def detect(values: pl.Series, *, where: str = "the file") -> tuple[str, ...]:
    """The strftime formats that read `values` (text; nulls ignored), tried in order.

    Raises AmbiguousDateFormat when day-first and month-first both read every value differently
    and nothing in the file tells them apart.
    """
    distinct = values.cast(pl.String).drop_nulls().str.strip_chars().unique()
    distinct = distinct.filter(distinct != "")
    if not distinct.len():
        return ISO_FORMATS
    parts = (
        pl.DataFrame({"value": distinct})
        .with_columns(pl.col("value").str.extract_groups(_PARTS).alias("p"))
        .unnest("p")
        .filter(pl.col("a").is_not_null())
        .with_columns(
            pl.col("a").str.len_chars().alias("a_len"),
            pl.col("c").str.len_chars().alias("c_len"),
            pl.col("a").cast(pl.Int32),
            pl.col("b").cast(pl.Int32),
        )
    )
    if not parts.height:
        return ISO_FORMATS
    separators = sorted(set(parts.get_column("sep").to_list()))
    time_separators = sorted({value or " " for value in parts.get_column("t").to_list()})
    year_first = parts.filter(pl.col("a_len").eq(4))
    others = parts.filter(pl.col("a_len").ne(4))
    orders: list[str] = []
    if year_first.height:
        orders.append("ymd")
    if others.height:
        day_first = others.filter(pl.col("a").gt(12)).height
        month_first = others.filter(pl.col("b").gt(12)).height
        if day_first and not month_first:
            orders.append("dmy")
        elif month_first and not day_first:
            orders.append("mdy")
        elif day_first and month_first:
            # Both seen: the order that reads more values first; the rest are bad dates.
            orders.append("dmy" if day_first >= month_first else "mdy")
        else:
            undecided = others.filter(pl.col("a").ne(pl.col("b")))
            if undecided.height:
                raise AmbiguousDateFormat(
                    undecided.sort("value").get_column("value").head(3).to_list(), where
                )
            orders.append("dmy")  # every value reads the same either way
    two_digit_years = others.filter(pl.col("c_len").eq(2)).height > 0
    formats: list[str] = []
    for order in orders:
        for separator in separators:
            date_format = _ORDERS[order].format(sep=separator)
            if order != "ymd" and two_digit_years:
                date_format = date_format.replace("%Y", "%y")
            for time_separator in time_separators:
                formats += _with_times(date_format, time_separator)
    return _unique([*formats, *ISO_FORMATS])


def describe(formats: Sequence[str]) -> str:
    """A short name for the formats a file is read in, for reject details."""
    plain = [fmt for fmt in formats if fmt not in ISO_FORMATS]
    if not plain:
        return "ISO 8601"
    base = plain[0].replace(":%S%.f", "").replace(":%S", "")
    return f"{base}, seconds optional, or ISO 8601"


def column_values(frame: pl.DataFrame, columns: Iterable[str]) -> pl.Series:
    """The text values of `columns` (those present and text), one series for `detect`."""
    present = [
        name
        for name in columns
        if name in frame.columns and frame.schema[name] in (pl.String, pl.Utf8)
    ]
    if not present:
        return pl.Series("value", [], dtype=pl.String)
    return pl.concat(
        [frame.get_column(name).drop_nulls().unique().alias("value") for name in present]
    )
