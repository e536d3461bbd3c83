"""One module per source; `parse` dispatches by the source's name."""

from __future__ import annotations

from pathlib import Path

from ingest import limits
from ingest.exceptions import MappingError, UnknownSourceError
from ingest.parsed import ParsedExport
from ingest.sources import csv_mapping, jira, servicenow_audit, servicenow_table

SOURCES = {
    servicenow_audit.NAME: servicenow_audit,
    servicenow_table.NAME: servicenow_table,
    jira.NAME: jira,
    csv_mapping.NAME: csv_mapping,
}


def parse(source: str, path: Path, *, mapping: Path | None = None, **options) -> ParsedExport:
    """Parse `path` as an export of `source` (see SOURCES) into canonical frames and rejects;
    rows with a value over its column's limit are rejects too (ingest/limits.py)."""
    parsed = _parse(source, path, mapping=mapping, **options)
    limits.enforce(parsed)
    return parsed


def _parse(source: str, path: Path, *, mapping: Path | None = None, **options) -> ParsedExport:
    module = SOURCES.get(source)
    if module is None:
        raise UnknownSourceError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    if source == csv_mapping.NAME:
        if mapping is None:
            raise MappingError("the generic source needs a mapping file (--mapping)")
        return module.parse(Path(path), mapping=Path(mapping), **options)
    if source == jira.NAME:
        return module.parse(Path(path), mapping=Path(mapping) if mapping else None, **options)
    if mapping is not None:
        raise MappingError(f"source {source!r} takes no mapping file")
    return module.parse(Path(path), **options)
