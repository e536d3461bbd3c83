"""Turn a frame of source columns (already named after canonical fields) into a canonical frame.

Used by the table-shaped sources (ServiceNow table export, generic mapping): every canonical
column is parsed according to its dtype, enumerations go through value maps, and each value
that cannot be parsed becomes a reject naming its source column. Rows with a reject are left
out of the canonical frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from ingest import dates, parsing, rejects, schema

# A state map entry may carry a hold reason: {"state": "on_hold", "hold_reason": "..."}.
_PAIR = "|"


@dataclass(frozen=True)
class Conversion:
    entity: str
    source_system: str
    source_columns: Mapping[str, str]  # canonical field -> source column name (for rejects)
    value_maps: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    coded: Sequence[str] = ()  # Int columns holding ServiceNow-style "2 - Medium" codes
    coded_labels: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # None: read the format from the file's own dates (ingest/dates.py).
    date_formats: Sequence[str] | None = None
    timezone: str = "UTC"
    decimal_comma: bool = False
    list_separator: str = ";"
    null_tokens: Sequence[str] = ()


def state_map_entries(mapping: Mapping[str, object]) -> dict[str, str]:
    """Normalize state map values to "state" or "state|hold_reason" strings."""
    entries = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            reason = value.get("hold_reason")
            entries[str(key)] = f"{value['state']}{_PAIR}{reason}" if reason else value["state"]
        else:
            entries[str(key)] = str(value)
    return entries


def _identity_map(allowed: Sequence[object]) -> dict[str, object]:
    return {str(value): value for value in allowed}


def _reason_for(name: str) -> str:
    return rejects.UNKNOWN_STATE if name == "state" else rejects.UNKNOWN_VALUE


def convert(frame: pl.DataFrame, conversion: Conversion) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (canonical frame of the good rows, rejects). `frame` has `_line`."""
    spec = schema.ENTITIES[conversion.entity]
    key_columns = [name for name in spec.key if name != "source_system"]
    external_id = key_columns[0]
    parsed: list[pl.Expr] = []
    checks: list[pl.DataFrame] = []
    source_name = conversion.source_columns

    text = frame.with_columns(
        parsing.clean(pl.col(name), conversion.null_tokens).alias(name)
        for name, dtype in frame.schema.items()
        if name != parsing.LINE and (dtype == pl.String or dtype == pl.Null)
    )
    present = set(text.columns)
    external = pl.col(external_id) if external_id in present else pl.lit(None, pl.String)
    text = text.with_columns(external.cast(pl.String).alias("_external_id"))

    date_formats = conversion.date_formats
    if date_formats is None:
        date_columns = [name for name, dtype in spec.schema.items() if dtype == schema.UTC_DATETIME]
        date_formats = dates.detect(
            dates.column_values(text, date_columns), where=conversion.entity
        )

    def reject(condition: pl.Expr, name: str, reason: str, detail: str) -> None:
        checks.append(
            rejects.rejects_where(
                text,
                condition,
                column=source_name.get(name, name),
                reason=reason,
                value=pl.col(name).cast(pl.String),
                detail=detail,
            )
        )

    for name, dtype in spec.schema.items():
        if name == "source_system":
            continue
        if name not in present:
            continue
        column = pl.col(name)
        source_dtype = text.schema[name]
        if dtype == schema.UTC_DATETIME:
            if isinstance(source_dtype, pl.Datetime):
                value = (
                    column.dt.convert_time_zone("UTC")
                    if source_dtype.time_zone
                    else column.dt.replace_time_zone(
                        conversion.timezone, ambiguous="earliest", non_existent="null"
                    ).dt.convert_time_zone("UTC")
                ).cast(schema.UTC_DATETIME)
            else:
                value = parsing.timestamp(column.cast(pl.String), date_formats, conversion.timezone)
            parsed.append(value.alias(name))
            reject(
                column.is_not_null() & value.is_null(),
                name,
                rejects.BAD_DATE,
                f"not a date in the file's format ({dates.describe(date_formats)})",
            )
        elif name == "state" and name in conversion.value_maps:
            entries = state_map_entries(conversion.value_maps["state"])
            mapped = parsing.lookup(column.cast(pl.String), entries, pl.String())
            parsed.append(mapped.str.split(_PAIR).list.get(0, null_on_oob=True).alias("state"))
            parsed.append(mapped.str.split(_PAIR).list.get(1, null_on_oob=True).alias("_hold"))
            reject(
                column.is_not_null() & mapped.is_null(),
                name,
                rejects.UNKNOWN_STATE,
                "no mapping for this state",
            )
        elif dtype.is_integer() and not (name in conversion.value_maps or name in conversion.coded):
            text_value = column.cast(pl.String)
            if conversion.decimal_comma:
                text_value = text_value.str.replace(",", ".", literal=True)
            number = text_value.cast(pl.Float64, strict=False)
            value = pl.when(number.round(0).eq(number)).then(number).cast(dtype, strict=False)
            reject(
                column.is_not_null() & value.is_null(),
                name,
                rejects.BAD_NUMBER,
                "not a whole number",
            )
            if name in spec.allowed:
                allowed = list(spec.allowed[name])
                reject(
                    value.is_not_null() & ~value.is_in(allowed),
                    name,
                    rejects.UNKNOWN_VALUE,
                    f"not one of {allowed}",
                )
            if name in spec.minimum:
                lowest = spec.minimum[name]
                reject(
                    value.is_not_null() & value.lt(lowest),
                    name,
                    rejects.BAD_NUMBER,
                    f"below {lowest}",
                )
            parsed.append(value.alias(name))
        elif name in spec.allowed or name in conversion.value_maps:
            allowed = spec.allowed.get(name, ())
            mapping = conversion.value_maps.get(name) or _identity_map(allowed)
            text_value = column.cast(pl.String)
            if name in conversion.coded:
                value = parsing.coded(text_value, conversion.coded_labels.get(name, {}), allowed)
                if name in conversion.value_maps:
                    value = pl.coalesce(parsing.lookup(text_value, mapping, dtype), value)
            else:
                value = parsing.lookup(text_value, mapping, dtype)
            if allowed:
                value = pl.when(value.is_in(list(allowed))).then(value)
            parsed.append(value.cast(dtype).alias(name))
            reject(
                column.is_not_null() & value.is_null(),
                name,
                _reason_for(name),
                f"no mapping for this {name}; allowed: {list(allowed)}" if allowed else "",
            )
        elif dtype == pl.Boolean:
            value = parsing.boolean(column.cast(pl.String))
            parsed.append(value.alias(name))
            reject(
                column.is_not_null() & value.is_null(), name, rejects.UNKNOWN_VALUE, "not a boolean"
            )
        elif isinstance(dtype, pl.List):
            parsed.append(
                column.cast(pl.String)
                .str.split(conversion.list_separator)
                .list.eval(pl.element().str.strip_chars())
                .list.eval(pl.element().filter(pl.element() != ""))
                .alias(name)
            )
        else:
            parsed.append(column.cast(pl.String).alias(name))

    for name in spec.required:
        if name == "source_system" or name not in present:
            continue
        reason = rejects.MISSING_KEY if name in spec.key else rejects.MISSING_VALUE
        reject(pl.col(name).is_null(), name, reason, f"{name} is empty")

    found = rejects.combine(checks)
    good = text.filter(~pl.col(parsing.LINE).is_in(found.get_column("line").unique().implode()))
    converted = good.select(parsing.LINE, *parsed).with_columns(
        pl.lit(conversion.source_system).alias("source_system")
    )
    if conversion.entity == "incidents":
        converted = _hold_reason(converted)
    return converted, found


def _hold_reason(frame: pl.DataFrame) -> pl.DataFrame:
    """An explicit hold reason wins over one implied by the state; only on_hold keeps one."""
    implied = pl.col("_hold") if "_hold" in frame.columns else pl.lit(None, pl.String)
    explicit = pl.col("hold_reason") if "hold_reason" in frame.columns else pl.lit(None, pl.String)
    return frame.with_columns(
        pl.when(pl.col("state").eq("on_hold"))
        .then(pl.coalesce(explicit, implied))
        .alias("hold_reason")
    )
