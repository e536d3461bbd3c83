"""Custom field values of imported incidents, changes, problems and requests, typed by the
platform's definitions before any record is loaded: a record whose export gives a value its
field cannot hold (or a field that is not defined) is refused whole, as the API refuses it
with a 422, and reported at its line with every bad field named."""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy.orm import Session

from ingest import rejects
from ingest.loader.report import REFUSAL_SCHEMA, EntityCounts, LoadReport
from ingest.parsed import ParsedExport
from operational.customfields import service as custom_fields
from operational.customfields.exceptions import InvalidCustomFields

# canonical entity -> the record type of its custom fields
RECORD_TYPES = {
    "incidents": "incident",
    "changes": "change",
    "problems": "problem",
    "requests": "request",
}


def has_values(parsed: ParsedExport) -> bool:
    """Whether any record of ``parsed`` carries custom field texts to type."""
    return any(
        getattr(parsed, entity).get_column("custom_fields").null_count()
        < getattr(parsed, entity).height
        for entity in RECORD_TYPES
    )


def type_values(session: Session, parsed: ParsedExport, report: LoadReport) -> None:
    """Replace each record's custom field texts by typed values (JSON), dropping the records
    refused (and their events) from ``parsed``. Runs before the records are loaded."""
    for entity, record_type in RECORD_TYPES.items():
        frame: pl.DataFrame = getattr(parsed, entity)
        if not frame.height or frame.get_column("custom_fields").null_count() == frame.height:
            continue
        convert = custom_fields.importer(
            session=session, record_type=record_type, separator=parsed.list_separator
        )
        typed: list[str | None] = []
        refused: list[tuple[int, str, str, str]] = []
        rows = frame.select("external_id", "custom_fields").iter_rows()
        for index, (external_id, text) in enumerate(rows):
            if text is None:
                typed.append(None)
                continue
            try:
                typed.append(json.dumps(convert(json.loads(text)), ensure_ascii=False))
            except InvalidCustomFields as error:
                detail = "; ".join(
                    f"cf.{item['field']}: {item['detail']}" for item in error.extra["errors"]
                )
                refused.append((index, text, external_id, detail))
                typed.append(None)
        frame = frame.with_columns(pl.Series("custom_fields", typed, dtype=pl.String))
        if refused:
            frame = _drop_refused(parsed, entity, frame, refused, report)
        setattr(parsed, entity, frame)


def _drop_refused(
    parsed: ParsedExport,
    entity: str,
    frame: pl.DataFrame,
    refused: list[tuple[int, str, str, str]],
    report: LoadReport,
) -> pl.DataFrame:
    """The frame without the refused rows, which become refusals. The loaders refuse rows by
    their index in the frame they load (a request naming no requester, say), so the source
    lines are reordered to match: the kept rows' lines first, then the refused rows'."""
    refused_rows = [row for row, *_ in refused]
    kept = ~pl.Series([False] * frame.height).scatter(refused_rows, True)
    report.refusals.append(
        pl.DataFrame(
            {
                "entity": entity,
                "_row": list(range(int(kept.sum()), frame.height)),
                "column": "custom_fields",
                "reason": rejects.INVALID_CUSTOM_FIELD,
                "value": [text for _, text, *_ in refused],
                "external_id": [external_id for *_, external_id, _ in refused],
                "detail": [detail for *_, detail in refused],
            },
            schema=REFUSAL_SCHEMA,
        )
    )
    report.counts.setdefault(entity, EntityCounts()).refused += len(refused)
    lines = parsed.lines.get(entity)
    if lines is not None:
        parsed.lines[entity] = pl.concat([lines.filter(kept), lines.gather(refused_rows)])
    refused_ids = [external_id for *_, external_id, _ in refused]
    if entity == "incidents":
        parsed.events = parsed.events.filter(~pl.col("external_id").is_in(refused_ids))
    if entity == "requests":
        parsed.request_events = parsed.request_events.filter(
            (pl.col("entity") != "request") | ~pl.col("external_id").is_in(refused_ids)
        )
    return frame.filter(kept)
