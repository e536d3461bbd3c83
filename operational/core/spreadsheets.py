"""Cells that a spreadsheet opens as data, never as a formula (CSV and formula injection).

Excel, LibreOffice and Google Sheets treat a text cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, DDE payloads). Every
CSV and XLSX file the platform writes (compliance exports, the dashboards' downloads) passes its
text cells through this module, which prefixes such a cell with an apostrophe, the escape OWASP
recommends: the spreadsheet shows the text as it was written, as text.

Only text is escaped. Numbers, dates and booleans keep their type: a negative number is data,
and ``-3`` in a number column stays the number -3. (A user-written ``-3`` in a text column, say a
title, is text and is escaped like any other.)
"""

from __future__ import annotations

from typing import Any

import polars as pl

# The characters that make a spreadsheet read a cell as a formula, when they come first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
_NEEDS_ESCAPE = "^[" + "".join("\\" + c if c in "-+" else c for c in FORMULA_PREFIXES) + "]"


def escape_cell(value: Any) -> Any:
    """``value`` as a spreadsheet cell: text that would start a formula gets a leading ``'``;
    anything that is not text is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return ESCAPE + value
    return value


def escape_text(expression: pl.Expr) -> pl.Expr:
    """``escape_cell`` for a text column of a polars frame, vectorized."""
    return (
        pl.when(expression.str.contains(_NEEDS_ESCAPE))
        .then(pl.lit(ESCAPE) + expression)
        .otherwise(expression)
    )


def escape_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text column escaped (``escape_cell``); other columns untouched."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical)]
    return frame.with_columns(
        escape_text(pl.col(name).cast(pl.String)).alias(name) for name in text
    )
