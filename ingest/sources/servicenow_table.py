"""ServiceNow table export of incidents: JSON (Table API / list export) or CSV, one row per
incident, with display values. It has no history, so the events its timestamps imply are
synthesized (see `ingest.history.synthesize_events`) and marked `synthesized = true`.

JSON may be `{"result": [...]}` (Table API), `{"records": [...]}` (list export) or a bare list.
The incident number is the external id (as in the audit export). A field may be a plain
display value, or `{"display_value": ..., "value": ...}`
(`sysparm_display_value=all`); the display value is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from ingest import convert, dates, history, parsing, schema
from ingest.exceptions import FormatError
from ingest.parsed import ParsedExport
from ingest.sources import servicenow_audit

NAME = "servicenow-table"
EXPECTED = "ServiceNow incident table export (JSON or CSV, one row per incident)"
REQUIRED_COLUMNS = ("number", "state", "opened_at")

# canonical field -> ServiceNow column
COLUMNS: dict[str, str] = {
    "number": "number",
    "title": "short_description",
    "description": "description",
    "requester": "caller_id",
    "opened_by": "opened_by",
    "channel": "contact_type",
    "category": "category",
    "subcategory": "subcategory",
    "service": "business_service",
    "ci": "cmdb_ci",
    "location": "location",
    "impact": "impact",
    "urgency": "urgency",
    "priority": "priority",
    "assignment_group": "assignment_group",
    "assignee": "assigned_to",
    "state": "state",
    "hold_reason": "hold_reason",
    "resolution_code": "close_code",
    "resolution_notes": "close_notes",
    "opened_at": "opened_at",
    "updated_at": "sys_updated_on",
    "resolved_at": "resolved_at",
    "closed_at": "closed_at",
    "reopen_count": "reopen_count",
    "reassignment_count": "reassignment_count",
    "source_made_sla": "made_sla",
    "problem_ref": "problem_id",
    "change_ref": "caused_by",
}
# Display values and the raw codes of the out-of-box incident table.
STATES = {
    "New": "new",
    "1": "new",
    "In Progress": "in_progress",
    "2": "in_progress",
    "Active": "in_progress",
    "On Hold": "on_hold",
    "3": "on_hold",
    "Resolved": "resolved",
    "6": "resolved",
    "Closed": "closed",
    "7": "closed",
    "Canceled": "cancelled",
    "Cancelled": "cancelled",
    "8": "cancelled",
}
HOLD_REASONS = {
    "Awaiting Caller": "awaiting_caller",
    "1": "awaiting_caller",
    "Awaiting Evidence": "awaiting_evidence",
    "2": "awaiting_evidence",
    "Awaiting Problem Resolution": "awaiting_problem",
    "Awaiting Problem": "awaiting_problem",
    "3": "awaiting_problem",
    "Awaiting Vendor": "awaiting_vendor",
    "4": "awaiting_vendor",
    "Awaiting Change": "awaiting_change",
    "5": "awaiting_change",
}


def parse(
    path: Path,
    *,
    source_system: str = "servicenow",
    timezone: str = "UTC",
    date_format: str | None = None,
) -> ParsedExport:
    path = Path(path)
    frame = _read(path)
    rows_read = frame.height
    # The number, not sys_id, is the key: the audit export of the same instance has no sys_id,
    # and keying both on the number lets the two exports update the same tickets.
    external = "number"
    renamed = frame.select(
        parsing.LINE,
        pl.col(external).cast(pl.String).alias("external_id"),
        *(
            pl.col(column).alias(canonical)
            for canonical, column in COLUMNS.items()
            if column in frame.columns
        ),
    )
    source_columns = {canonical: column for canonical, column in COLUMNS.items()}
    source_columns["external_id"] = external
    conversion = convert.Conversion(
        entity="incidents",
        source_system=source_system,
        source_columns=source_columns,
        value_maps={
            "state": STATES,
            "hold_reason": HOLD_REASONS,
            "channel": servicenow_audit.CHANNELS,
        },
        coded=("impact", "urgency", "priority"),
        coded_labels={
            "impact": servicenow_audit.IMPACT_LABELS,
            "urgency": servicenow_audit.IMPACT_LABELS,
            "priority": servicenow_audit.PRIORITY_LABELS,
        },
        date_formats=dates.from_user(date_format) if date_format else None,
        timezone=timezone,
    )
    incidents, found = _convert_lenient_channel(renamed, conversion)
    incidents = history.with_source_figures(schema.conform(incidents, "incidents"))
    return ParsedExport(
        source=NAME,
        source_system=source_system,
        path=path,
        rows_read=rows_read,
        incidents=incidents,
        events=history.synthesize_events(incidents),
        rejects=found,
    )


def _convert_lenient_channel(
    frame: pl.DataFrame, conversion: convert.Conversion
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Unknown contact types become null rather than rejects: a label is no reason to drop
    a ticket (the same rule as the audit source)."""
    known = {key.lower() for key in servicenow_audit.CHANNELS}
    if "channel" in frame.columns:
        channel = pl.col("channel").cast(pl.String).str.strip_chars()
        frame = frame.with_columns(
            pl.when(channel.str.to_lowercase().is_in(list(known))).then(channel).alias("channel")
        )
    return convert.convert(frame, conversion)


def _read(path: Path) -> pl.DataFrame:
    with path.open("rb") as handle:
        head = handle.read(64).lstrip(b"\xef\xbb\xbf").lstrip()
    if head[:1] in (b"{", b"["):
        return _read_json(path)
    return parsing.read_csv_text(path, expected=EXPECTED, required_columns=REQUIRED_COLUMNS)


def _display(value: object) -> object:
    if isinstance(value, Mapping):
        shown = value.get("display_value")
        return shown if shown not in (None, "") else value.get("value")
    return value


def _read_json(path: Path) -> pl.DataFrame:
    try:
        document = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(path, EXPECTED, f"it is not valid JSON ({error})") from error
    if isinstance(document, Mapping):
        records = document.get("result", document.get("records"))
    else:
        records = document
    if not isinstance(records, list) or not all(isinstance(row, Mapping) for row in records):
        raise FormatError(path, EXPECTED, 'expected {"result": [incident objects]}')
    columns: dict[str, list[object]] = {name: [None] * len(records) for name in REQUIRED_COLUMNS}
    for index, record in enumerate(records):
        for name, value in record.items():
            shown = _display(value)
            columns.setdefault(name, [None] * len(records))[index] = (
                None if shown is None else str(shown)
            )
    if records and not any("number" in record for record in records):
        raise FormatError(path, EXPECTED, "no record has a number")
    frame = pl.DataFrame(
        {name: pl.Series(name, values, dtype=pl.String) for name, values in columns.items()}
    )
    return frame.with_row_index(parsing.LINE, offset=1).with_columns(
        pl.col(parsing.LINE).cast(pl.Int64)
    )
