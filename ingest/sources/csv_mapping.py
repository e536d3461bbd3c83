"""Generic exports (CSV, JSON or Parquet) described by a small YAML mapping file.

A mapping names the entity the file holds (incidents, changes, change_approvals, problems,
configuration_items, ci_relationships, csat, requests, request_items, request_tasks,
request_approvals), the column for each canonical field, value maps, date formats, the CSV
separator and decimal comma. An incidents, requests, request_items or request_tasks mapping may
name a companion history file of events; records without one get events synthesized from their
timestamps. See docs/ingest.md and the examples in docs/mappings/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from ingest import convert, dates, history, parsing, paths, rejects, request_history, schema
from ingest.exceptions import FormatError, MappingError
from ingest.parsed import ParsedExport

NAME = "generic"
# As operational.customfields.models.NAME_PATTERN; the loader checks the field exists.
CUSTOM_FIELD_NAME = "[a-z][a-z0-9_]{0,62}"
FORMATS = ("csv", "json", "parquet")
ENTITIES = (
    "incidents",
    "changes",
    "change_approvals",
    "configuration_items",
    "ci_relationships",
    "csat",
    "problems",
    "requests",
    "request_items",
    "request_tasks",
    "request_approvals",
)
HISTORY_FIELDS = ("external_id", "occurred_at", "actor", "kind", "field", "old_value", "new_value")
_TOP_LEVEL = {
    "entity",
    "source_system",
    "format",
    "csv",
    "json",
    "timezone",
    "date_formats",
    "list_separator",
    "columns",
    "values",
    "constants",
    "history",
    "custom_fields",
}
# The entities whose records carry custom fields (docs/custom-fields.md).
CUSTOM_FIELD_ENTITIES = ("incidents", "changes", "problems", "requests")


@dataclass(frozen=True)
class HistoryMapping:
    path: str  # relative to the data file's folder
    columns: Mapping[str, str]
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class GenericMapping:
    entity: str
    source_system: str
    columns: Mapping[str, str]  # canonical field -> source column
    format: str | None = None  # default: from the file extension
    separator: str = ","
    decimal_comma: bool = False
    encoding: str = "utf8"
    null_values: tuple[str, ...] = ()
    json_records: str | None = None  # dotted path to the list of records
    timezone: str = "UTC"
    # None: read from the file's own dates (ingest/dates.py).
    date_formats: tuple[str, ...] | None = None
    list_separator: str = ";"
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    constants: Mapping[str, object] = field(default_factory=dict)
    history: HistoryMapping | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict)  # field name -> column

    @classmethod
    def from_file(cls, path: Path) -> GenericMapping:
        try:
            document = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as error:
            raise MappingError(f"cannot read mapping {path}: {error}") from error
        if not isinstance(document, Mapping):
            raise MappingError(f"{path}: a mapping file is a YAML object")
        return cls.from_dict(document, origin=str(path))

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, origin: str = "mapping") -> GenericMapping:
        unknown = set(document) - _TOP_LEVEL
        if unknown:
            raise MappingError(f"{origin}: unknown key(s) {sorted(unknown)}")
        for key in ("entity", "source_system", "columns"):
            if key not in document:
                raise MappingError(f"{origin}: '{key}' is required")
        csv_options = document.get("csv") or {}
        json_options = document.get("json") or {}
        history_document = document.get("history")
        formats = document.get("date_formats", cls.date_formats)
        mapping = cls(
            entity=document["entity"],
            source_system=str(document["source_system"]),
            columns=dict(document["columns"]),
            format=document.get("format"),
            separator=csv_options.get("separator", ","),
            decimal_comma=bool(csv_options.get("decimal_comma", False)),
            encoding=csv_options.get("encoding", "utf8"),
            null_values=tuple(csv_options.get("null_values", ())),
            json_records=json_options.get("records"),
            timezone=document.get("timezone", "UTC"),
            date_formats=None
            if formats is None
            else (formats,)
            if isinstance(formats, str)
            else tuple(formats),
            list_separator=document.get("list_separator", ";"),
            values={name: dict(values) for name, values in (document.get("values") or {}).items()},
            constants=dict(document.get("constants") or {}),
            history=HistoryMapping(
                path=paths.check_relative_name(
                    history_document.get("path"), what=f"{origin}: history.path"
                ),
                columns=dict(history_document["columns"]),
                values=dict(history_document.get("values") or {}),
            )
            if history_document
            else None,
            custom_fields=dict(document.get("custom_fields") or {}),
        )
        mapping.validate(origin)
        return mapping

    def validate(self, origin: str = "mapping") -> None:
        if self.entity not in ENTITIES:
            raise MappingError(f"{origin}: entity must be one of {ENTITIES}, not {self.entity!r}")
        if self.format is not None and self.format not in FORMATS:
            raise MappingError(f"{origin}: format must be one of {FORMATS}")
        spec = schema.ENTITIES[self.entity]
        fields = set(spec.schema) - {"source_system"}
        if self.custom_fields and self.entity not in CUSTOM_FIELD_ENTITIES:
            raise MappingError(
                f"{origin}: only {', '.join(CUSTOM_FIELD_ENTITIES)} carry custom_fields"
            )
        for name, column in self.custom_fields.items():
            if not re.fullmatch(CUSTOM_FIELD_NAME, str(name)) or not isinstance(column, str):
                raise MappingError(
                    f"{origin}: custom_fields maps a field name (lower case, digits, _) to a "
                    f"column, not {name!r}: {column!r}"
                )
        for name in (*self.columns, *self.constants):
            if name not in fields or name == "custom_fields":
                raise MappingError(f"{origin}: {name!r} is not a field of {self.entity}")
        for name in spec.required:
            mapped = name in self.columns or name in self.constants
            implied = name == "number" and "external_id" in self.columns
            if name != "source_system" and not mapped and not implied:
                raise MappingError(f"{origin}: required field {name!r} has no column")
        for name, values in self.values.items():
            if name not in fields:
                raise MappingError(f"{origin}: values for unknown field {name!r}")
            targets = (
                convert.state_map_entries(values).values() if name == "state" else values.values()
            )
            allowed = spec.allowed.get(name)
            for target in targets:
                state, _, reason = str(target).partition("|")
                value = target if name != "state" else state
                if allowed and value not in allowed:
                    raise MappingError(
                        f"{origin}: {name} value {target!r} is not one of {list(allowed)}"
                    )
                if reason and reason not in schema.HOLD_REASONS:
                    raise MappingError(f"{origin}: hold reason {reason!r} is not known")
        if self.history is not None:
            if self.entity != "incidents" and self.entity not in request_history.ENTITY_TYPES:
                raise MappingError(
                    f"{origin}: only an incidents, requests, request_items or request_tasks "
                    "mapping can have a history"
                )
            missing = {"external_id", "occurred_at", "kind"} - set(self.history.columns)
            if missing or set(self.history.columns) - set(HISTORY_FIELDS):
                raise MappingError(
                    f"{origin}: history columns must include external_id, occurred_at, kind "
                    f"and may include {HISTORY_FIELDS}"
                )


def _file_format(path: Path, mapping: GenericMapping) -> str:
    if mapping.format:
        return mapping.format
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "txt", "tsv"):
        return "csv"
    if suffix in ("json", "parquet"):
        return suffix
    raise FormatError(path, "generic export", "unknown extension; set 'format' in the mapping")


def _read(path: Path, mapping: GenericMapping, columns: list[str]) -> pl.DataFrame:
    expected = f"{mapping.entity} export per its mapping"
    kind = _file_format(path, mapping)
    if kind == "csv":
        return parsing.read_csv_text(
            path,
            expected=f"CSV {expected}",
            required_columns=columns,
            separator=mapping.separator,
            null_values=mapping.null_values,
            encoding=mapping.encoding,
        )
    if kind == "parquet":
        try:
            frame = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as error:
            raise FormatError(path, f"Parquet {expected}", str(error)) from error
    else:
        frame = _read_json(path, mapping, expected=f"JSON {expected}")
    parsing.require_columns(frame.columns, columns, path=path, expected=expected)
    return frame.with_row_index(parsing.LINE, offset=1).with_columns(
        pl.col(parsing.LINE).cast(pl.Int64)
    )


def _read_json(path: Path, mapping: GenericMapping, *, expected: str) -> pl.DataFrame:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(path, expected, f"not valid JSON ({error})") from error
    records = document
    for step in (mapping.json_records or "").split("."):
        if step:
            records = records.get(step) if isinstance(records, Mapping) else None
    if not isinstance(records, list) or not all(isinstance(row, Mapping) for row in records):
        where = mapping.json_records or "the top level"
        raise FormatError(path, expected, f"no list of records at {where}")
    names = {name for record in records for name in record}
    return pl.DataFrame(
        {
            name: pl.Series(
                name,
                [None if row.get(name) is None else str(row.get(name)) for row in records],
                dtype=pl.String,
            )
            for name in sorted(names)
        }
    )


def parse(
    path: Path, *, mapping: GenericMapping | Path, date_format: str | None = None
) -> ParsedExport:
    """`date_format` (`--date-format`) overrides the mapping's `date_formats`; with neither, the
    format is read from the file's own dates (ingest/dates.py)."""
    path = Path(path)
    if not isinstance(mapping, GenericMapping):
        mapping = GenericMapping.from_file(mapping)
    if date_format:
        mapping = replace(mapping, date_formats=dates.from_user(date_format))
    columns = dict(mapping.columns)
    has_number = "number" in schema.ENTITIES[mapping.entity].schema
    if has_number and "number" not in columns and "number" not in mapping.constants:
        columns["number"] = columns["external_id"]
    frame = _read(path, mapping, sorted({*columns.values(), *mapping.custom_fields.values()}))
    selected = frame.select(
        parsing.LINE,
        *(pl.col(source).alias(canonical) for canonical, source in columns.items()),
        *(
            pl.lit(str(value)).alias(canonical)
            for canonical, value in mapping.constants.items()
            if canonical not in columns
        ),
    )
    conversion = convert.Conversion(
        entity=mapping.entity,
        source_system=mapping.source_system,
        source_columns=columns,
        value_maps=mapping.values,
        date_formats=mapping.date_formats,
        timezone=mapping.timezone,
        decimal_comma=mapping.decimal_comma,
        list_separator=mapping.list_separator,
        null_tokens=mapping.null_values,
    )
    converted, found = convert.convert(selected, conversion)
    if mapping.custom_fields:
        converted = converted.join(
            _custom_field_text(frame, mapping), on=parsing.LINE, how="left", maintain_order="left"
        )
    canonical = schema.conform(converted, mapping.entity)
    result = ParsedExport(
        source=NAME,
        source_system=mapping.source_system,
        path=path,
        rows_read=frame.height,
        rejects=rejects.name_file(found, path.name),
    )
    setattr(result, mapping.entity, canonical)
    result.lines[mapping.entity] = converted.get_column(parsing.LINE)
    result.source_columns = columns
    result.list_separator = mapping.list_separator
    if mapping.entity == "incidents":
        result.events, history_rejects = _incident_events(canonical, path, mapping)
        result.rejects = rejects.combine([result.rejects, history_rejects])
        recorded = result.events.filter(~pl.col("synthesized")).get_column("external_id")
        result.incidents = history.with_source_figures(canonical, recorded=recorded)
    if mapping.entity in request_history.ENTITY_TYPES:
        _request_events(result, canonical, path, mapping)
    return result


def _custom_field_text(frame: pl.DataFrame, mapping: GenericMapping) -> pl.DataFrame:
    """Each row's custom field values as a JSON object of their source text (empty and null
    cells left out); the loader types them by the fields' definitions."""
    null_tokens = set(mapping.null_values)

    def as_json(row: dict[str, Any]) -> str | None:
        values = {
            name: row[column].strip()
            for name, column in mapping.custom_fields.items()
            if row[column] is not None
            and row[column].strip()
            and row[column].strip() not in null_tokens
        }
        return json.dumps(values, ensure_ascii=False) if values else None

    sources = sorted(set(mapping.custom_fields.values()))
    texts = frame.select(
        parsing.LINE, *(pl.col(column).cast(pl.String) for column in sources)
    ).to_dicts()
    return pl.DataFrame(
        {
            parsing.LINE: [row[parsing.LINE] for row in texts],
            "custom_fields": [as_json(row) for row in texts],
        },
        schema={parsing.LINE: pl.Int64, "custom_fields": pl.String},
    )


def _request_events(
    result: ParsedExport, records: pl.DataFrame, path: Path, mapping: GenericMapping
) -> None:
    """The history of requests, items or tasks (ingest/request_history.py)."""
    if mapping.history is None:
        result.request_events = request_history.synthesize(
            records, mapping.entity, mapping.source_system
        )
        return
    history_path = paths.inside(path.parent, mapping.history.path, what="history.path")
    columns = dict(mapping.history.columns)
    frame = _read(history_path, mapping, sorted(set(columns.values())))
    selected = frame.select(
        parsing.LINE, *(pl.col(source).alias(name) for name, source in columns.items())
    )
    filled, result.request_events, found = request_history.from_history(
        records,
        selected,
        entity=mapping.entity,
        source_system=mapping.source_system,
        columns=columns,
        values={**mapping.values, **mapping.history.values},
        date_formats=mapping.date_formats,
        timezone=mapping.timezone,
        null_values=mapping.null_values,
        file_name=history_path.name,
    )
    setattr(result, mapping.entity, filled)
    result.rejects = rejects.combine([result.rejects, found])


def _incident_events(
    incidents: pl.DataFrame, path: Path, mapping: GenericMapping
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Events from the history file where there is one; synthesized for the other tickets."""
    if mapping.history is None:
        return history.synthesize_events(incidents), rejects.empty_rejects()
    history_path = paths.inside(path.parent, mapping.history.path, what="history.path")
    columns = dict(mapping.history.columns)
    frame = _read(history_path, mapping, sorted(set(columns.values())))
    values = {**mapping.values, **mapping.history.values}
    selected = frame.select(
        parsing.LINE, *(pl.col(source).alias(name) for name, source in columns.items())
    ).with_columns(parsing.clean(pl.col(name), mapping.null_values).alias(name) for name in columns)
    for name in HISTORY_FIELDS:
        if name not in selected.columns:
            selected = selected.with_columns(pl.lit(None, pl.String).alias(name))

    kind_map = values.get("kind") or {kind: kind for kind in schema.EVENT_KINDS}
    field_name = pl.col("field")
    # A state map value may carry a hold reason ({state: on_hold, hold_reason: ...}).
    hold_of = {
        key: entry.partition("|")[2] or None
        for key, entry in convert.state_map_entries(values.get("state") or {}).items()
    }

    def translate(column: str) -> pl.Expr:
        """Values of state, priority, impact, urgency and hold_reason go through the maps."""
        raw = pl.col(column)
        result = raw
        for name in ("hold_reason", "urgency", "impact", "priority", "state"):
            if name not in values:
                continue
            table = values[name]
            if name == "state":
                table = {
                    key: entry.partition("|")[0]
                    for key, entry in convert.state_map_entries(table).items()
                }
            mapped = parsing.lookup(raw, {k: str(v) for k, v in table.items()}, pl.String())
            result = pl.when(field_name.eq(name)).then(mapped).otherwise(result)
        return result

    known_tickets = incidents.get_column("external_id").implode()
    date_formats = mapping.date_formats or dates.detect(
        selected.get_column("occurred_at"), where=history_path.name
    )
    parsed = selected.with_columns(
        parsing.timestamp(pl.col("occurred_at"), date_formats, mapping.timezone).alias(
            "_occurred_at"
        ),
        parsing.lookup(pl.col("kind"), kind_map, pl.String()).alias("_kind"),
        translate("old_value").alias("_old"),
        translate("new_value").alias("_new"),
        *(
            pl.when(field_name.eq("state"))
            .then(parsing.lookup(pl.col(column), hold_of, pl.String()))
            .alias(alias)
            for column, alias in (("old_value", "_hold_old"), ("new_value", "_hold_new"))
        ),
        pl.col("external_id").alias("_external_id"),
    )
    source_name = {name: columns.get(name, name) for name in HISTORY_FIELDS}
    checks = [
        rejects.rejects_where(
            parsed,
            pl.col("external_id").is_null(),
            column=source_name["external_id"],
            reason=rejects.MISSING_KEY,
            value=pl.col("external_id"),
            detail="the ticket id is empty",
        ),
        rejects.rejects_where(
            parsed,
            pl.col("external_id").is_not_null() & ~pl.col("external_id").is_in(known_tickets),
            column=source_name["external_id"],
            reason=rejects.MISSING_KEY,
            value=pl.col("external_id"),
            detail="no such ticket among the imported incidents",
        ),
        rejects.rejects_where(
            parsed,
            parsing.unparsed("occurred_at", "_occurred_at") | pl.col("occurred_at").is_null(),
            column=source_name["occurred_at"],
            reason=rejects.BAD_DATE,
            value=pl.col("occurred_at"),
            detail=f"not a date in the file's format ({dates.describe(date_formats)})",
        ),
        rejects.rejects_where(
            parsed,
            pl.col("_kind").is_null() | ~pl.col("_kind").is_in(list(schema.EVENT_KINDS)),
            column=source_name["kind"],
            reason=rejects.UNKNOWN_VALUE,
            value=pl.col("kind"),
            detail=f"not an event kind {list(schema.EVENT_KINDS)}",
        ),
    ]
    for side, column in (("_old", "old_value"), ("_new", "new_value")):
        checks.append(
            rejects.rejects_where(
                parsed,
                pl.col(column).is_not_null() & pl.col(side).is_null(),
                column=source_name[column],
                reason=rejects.UNKNOWN_STATE,
                value=pl.col(column),
                detail="no mapping for this value",
            )
        )
    found = rejects.name_file(rejects.combine(checks), history_path.name)
    good = parsed.filter(~pl.col(parsing.LINE).is_in(found.get_column("line").implode()))
    good = good.sort("external_id", "_occurred_at", parsing.LINE).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_order")
    )
    with_history = good.get_column("external_id").unique().implode()
    lacking_created = incidents.filter(
        pl.col("external_id").is_in(with_history)
        & ~pl.col("external_id").is_in(
            good.filter(pl.col("_kind").eq("created")).get_column("external_id").implode()
        )
    )
    # The hold reason a state map gives reaches the events, as the API writes them: entering
    # on-hold is a state_changed followed, at the same instant, by a field_changed of
    # hold_reason (cleared on leaving), unless the history file says the reason itself there.
    explicit = good.filter(pl.col("field").eq("hold_reason")).select(
        "external_id", "_occurred_at", pl.lit(True).alias("_explicit")
    )
    holds = (
        good.filter(
            pl.col("_kind").eq("state_changed")
            & pl.col("_hold_old").ne_missing(pl.col("_hold_new"))
        )
        .join(explicit.unique(), on=["external_id", "_occurred_at"], how="left")
        .filter(pl.col("_explicit").is_null())
    )
    parts = [
        holds.select(
            "external_id",
            "_order",
            pl.lit(2, pl.Int32).alias("_rank"),
            pl.col("_occurred_at").alias("occurred_at"),
            "actor",
            pl.lit("field_changed").alias("kind"),
            pl.lit("hold_reason").alias("field"),
            pl.col("_hold_old").alias("old_value"),
            pl.col("_hold_new").alias("new_value"),
            pl.lit(False).alias("synthesized"),
        ),
        good.select(
            "external_id",
            "_order",
            pl.lit(1, pl.Int32).alias("_rank"),
            pl.col("_occurred_at").alias("occurred_at"),
            "actor",
            pl.col("_kind").alias("kind"),
            "field",
            pl.col("_old").alias("old_value"),
            pl.col("_new").alias("new_value"),
            pl.lit(False).alias("synthesized"),
        ),
        lacking_created.select(
            "external_id",
            pl.lit(-1, pl.Int64).alias("_order"),
            pl.lit(0, pl.Int32).alias("_rank"),
            "opened_at",
            "opened_by",
            pl.lit("created").alias("kind"),
            pl.lit(None, pl.String).alias("field"),
            pl.lit(None, pl.String).alias("old_value"),
            pl.col("number").alias("new_value"),
            pl.lit(True).alias("synthesized"),
        ).rename({"opened_at": "occurred_at", "opened_by": "actor"}),
    ]
    recorded = history.finish_events(parts, source_system=mapping.source_system, synthesized=False)
    synthesized = history.synthesize_events(
        incidents.filter(~pl.col("external_id").is_in(with_history))
    )
    events = pl.concat([recorded, synthesized]).sort("external_id", "seq")
    return events, found
