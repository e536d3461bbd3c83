"""The longest value an imported text field may hold (docs/ingest.md, "Limits").

A text column of a canonical frame may be as long as the operational column it is loaded into
(a title 300 characters, a category 120, a person's name 200, ...); a column loaded into
unbounded text (a description, notes, plans, comments, event values) holds at most
``TEXT_MAX_LENGTH`` characters, the API's own limit. A row with a longer value is rejected with
the reason ``too_long`` (its line, its column), and the good rows are loaded: a long value never
fails a batch at the database.

A rejected ticket takes its history with it (its events and survey answers), and a ticket with
an event over the limit is rejected whole: the loader never imports half a history.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl
from sqlalchemy import Table

from ingest import rejects
from ingest.parsed import ParsedExport
from operational.auth.models import Team, User
from operational.changes.models import Change, ChangeApproval
from operational.cmdb.models import ConfigurationItem
from operational.core.schemas import TEXT_MAX_LENGTH
from operational.events.models import Event
from operational.incidents.models import CsatSurvey, Incident

_PERSON = User.__table__.c.display_name
_GROUP = Team.__table__.c.name
_TICKET = Incident.__table__.c.external_id
# The operational column a canonical column is loaded into, where the names differ.
_LOADED_INTO = {
    "incidents": {
        "ci": Incident.__table__.c.configuration_item,
        "requester": _PERSON,
        "opened_by": _PERSON,
        "assignee": _PERSON,
        "assignment_group": _GROUP,
    },
    "events": {"actor": Event.__table__.c.actor_label, "external_id": _TICKET},
    "changes": {
        "requester": _PERSON,
        "implementer": _PERSON,
        "reviewer": _PERSON,
        "assignment_group": _GROUP,
        "risk": Change.__table__.c.risk_level,
    },
    "change_approvals": {
        "approver": _PERSON,
        "change_external_id": Change.__table__.c.external_id,
    },
    "configuration_items": {"owner_group": _GROUP},
    "ci_relationships": {
        "ci_external_id": ConfigurationItem.__table__.c.external_id,
        "related_ci_external_id": ConfigurationItem.__table__.c.external_id,
    },
    "csat": {"external_id": _TICKET, "respondent": _PERSON},
}
_TABLES: dict[str, Table] = {
    "incidents": Incident.__table__,
    "events": Event.__table__,
    "changes": Change.__table__,
    "change_approvals": ChangeApproval.__table__,
    "configuration_items": ConfigurationItem.__table__,
    "csat": CsatSurvey.__table__,
}


@cache
def max_length(entity: str, column: str) -> int:
    """The longest text ``column`` of ``entity`` may hold."""
    target = _LOADED_INTO.get(entity, {}).get(column)
    table = _TABLES.get(entity)
    if target is None and table is not None and column in table.c:
        target = table.c[column]
    length = getattr(getattr(target, "type", None), "length", None)
    return length or TEXT_MAX_LENGTH


def enforce(parsed: ParsedExport) -> None:
    """Reject the rows of ``parsed`` holding a value over its column's limit (in place)."""
    found: list[pl.DataFrame] = []
    dropped_tickets: set[str] = set()
    for entity, frame in parsed.frames().items():
        texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
        if not frame.height or not texts:
            continue
        numbered = frame.with_row_index("_row")
        over = [
            numbered.filter(pl.col(name).str.len_chars() > max_length(entity, name)).select(
                "_row", pl.lit(name).alias("column"), pl.col(name).alias("value"), *_key(entity)
            )
            for name in texts
        ]
        over = [part for part in over if part.height]
        if not over:
            continue
        offending = pl.concat(over).rechunk()  # (polars 2.1 panics on some multi-chunk views)
        found.append(_rejects(parsed, entity, offending))
        rows = offending.get_column("_row").unique()
        _drop_rows(parsed, entity, rows)
        if entity in ("incidents", "events"):
            dropped_tickets |= set(offending.get_column("_ticket").drop_nulls().to_list())
    if dropped_tickets:
        for entity in ("incidents", "events", "csat"):
            frame = getattr(parsed, entity)
            keep = ~frame.get_column("external_id").is_in(list(dropped_tickets))
            if not keep.all():
                _drop_rows(parsed, entity, frame.with_row_index("_row").filter(~keep)["_row"])
    if found:
        parsed.rejects = rejects.combine([parsed.rejects, *found])


def _key(entity: str) -> list[pl.Expr]:
    key = "change_external_id" if entity == "change_approvals" else "external_id"
    if entity == "request_approvals":
        key = "request_item_external_id"
    if entity == "ci_relationships":
        key = "ci_external_id"
    return [pl.col(key).alias("_ticket")]


def _rejects(parsed: ParsedExport, entity: str, offending: pl.DataFrame) -> pl.DataFrame:
    lines = parsed.lines.get(entity)
    line = (
        lines.cast(pl.Int64).gather(offending.get_column("_row"))
        if lines is not None
        else pl.Series(values=[None] * offending.height, dtype=pl.Int64)
    )
    return offending.select(
        pl.lit(Path(parsed.path).name).alias("file"),
        pl.lit(line).alias("line"),
        pl.col("column").replace(parsed.source_columns).alias("column"),
        pl.lit(rejects.TOO_LONG).alias("reason"),
        (pl.col("value").str.slice(0, 80) + "…").alias("value"),
        pl.col("_ticket").alias("external_id"),
        pl.format(
            "{} characters; at most {} fit",
            pl.col("value").str.len_chars(),
            pl.col("column").map_elements(
                lambda name, entity=entity: max_length(entity, name), return_dtype=pl.Int64
            ),
        ).alias("detail"),
    )


def _drop_rows(parsed: ParsedExport, entity: str, rows: pl.Series) -> None:
    frame = getattr(parsed, entity)
    keep = ~pl.int_range(frame.height, eager=True).is_in(rows.implode())
    setattr(parsed, entity, frame.filter(keep))
    if entity in parsed.lines:
        parsed.lines[entity] = parsed.lines[entity].filter(keep)
