"""Jira: the JSON of the REST search API (`/rest/api/2|3/search?expand=changelog`).

The file is one search response (`{"issues": [...]}`) or a list of them (one per page).
Issues whose type is not mapped as an incident are skipped (counted); the rest become
incidents, and their changelog histories and comments become events. Statuses, priorities,
issue types and custom fields are mapped by `JiraMapping` (defaults below, overridable from a
YAML file, see docs/ingest.md). `line` in rejects is the issue's 1-based position in the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from ingest import convert, dates, history, parsing, rejects, schema
from ingest.exceptions import FormatError, MappingError
from ingest.parsed import ParsedExport

NAME = "jira"
EXPECTED = "Jira search API response with changelog (JSON)"
DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z")

DEFAULT_STATUSES: dict[str, object] = {
    "Open": "new",
    "New": "new",
    "To Do": "new",
    "Backlog": "new",
    "Waiting for support": "assigned",
    "In Progress": "in_progress",
    "Work in progress": "in_progress",
    "Escalated": "in_progress",
    "Reopened": "in_progress",
    "Waiting for customer": {"state": "on_hold", "hold_reason": "awaiting_caller"},
    "Pending": {"state": "on_hold", "hold_reason": "awaiting_vendor"},
    "Resolved": "resolved",
    "Done": "resolved",
    "Closed": "closed",
    "Canceled": "cancelled",
    "Cancelled": "cancelled",
    "Declined": "cancelled",
    "Won't Do": "cancelled",
}
# Jira Service Management's problem workflow, onto ours.
DEFAULT_PROBLEM_STATUSES: dict[str, str] = {
    "Open": "new",
    "New": "new",
    "Under review": "assessed",
    "Under investigation": "root_cause_analysis",
    "In Progress": "fix_in_progress",
    "Completed": "resolved",
    "Resolved": "resolved",
    "Done": "resolved",
    "Closed": "closed",
    "Canceled": "closed",
    "Cancelled": "closed",
}
DEFAULT_PRIORITIES: dict[str, int] = {
    "Highest": 1,
    "Blocker": 1,
    "Critical": 1,
    "High": 2,
    "Major": 2,
    "Medium": 3,
    "Low": 4,
    "Minor": 4,
    "Lowest": 5,
    "Trivial": 5,
}


@dataclass(frozen=True)
class JiraMapping:
    source_system: str = "jira"
    issue_types: tuple[str, ...] = ("Incident", "IT Help", "Bug")
    statuses: Mapping[str, object] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    priorities: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    # canonical field -> Jira field id (e.g. assignment_group: customfield_10050)
    fields: Mapping[str, str] = field(default_factory=dict)
    # canonical field -> {Jira value: canonical value}, for impact, urgency, channel
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    # Issues of these types are problems; an incident linked to one is linked to that problem.
    problem_types: tuple[str, ...] = ("Problem",)
    problem_statuses: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_PROBLEM_STATUSES)
    )

    @classmethod
    def from_file(cls, path: Path) -> JiraMapping:
        try:
            document = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise MappingError(f"cannot read Jira mapping {path}: {error}") from error
        known = {"source_system", "issue_types", "statuses", "priorities", "fields", "values"}
        known |= {"problem_types", "problem_statuses"}
        unknown = set(document) - known
        if unknown:
            raise MappingError(f"{path}: unknown key(s) {sorted(unknown)}; allowed {sorted(known)}")
        mapping = cls(
            source_system=document.get("source_system", "jira"),
            issue_types=tuple(document.get("issue_types", cls.issue_types)),
            statuses={**DEFAULT_STATUSES, **document.get("statuses", {})},
            priorities={**DEFAULT_PRIORITIES, **document.get("priorities", {})},
            fields=document.get("fields", {}),
            values=document.get("values", {}),
            problem_types=tuple(document.get("problem_types", cls.problem_types)),
            problem_statuses={
                **DEFAULT_PROBLEM_STATUSES,
                **document.get("problem_statuses", {}),
            },
        )
        mapping.validate()
        return mapping

    def validate(self) -> None:
        for name, value in convert.state_map_entries(self.statuses).items():
            state, _, reason = value.partition("|")
            if state not in schema.STATES or (reason and reason not in schema.HOLD_REASONS):
                raise MappingError(f"status {name!r} maps to {value!r}, not a known state")
        for name, value in self.problem_statuses.items():
            if value not in schema.PROBLEM_STATES:
                raise MappingError(f"problem status {name!r} maps to {value!r}, not a known state")
        for name, value in self.priorities.items():
            if value not in schema.PRIORITIES:
                raise MappingError(f"priority {name!r} maps to {value!r}, not 1..5")
        allowed_fields = {"assignment_group", "impact", "urgency", "service", "ci", "channel"}
        allowed_fields |= {"category", "subcategory", "location"}
        if set(self.fields) - allowed_fields:
            raise MappingError(f"fields may map only {sorted(allowed_fields)}")


def _label(value: Any) -> str | None:
    """Jira field values: user objects, option objects, lists of them, or plain strings."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in ("displayName", "name", "value", "key"):
            if value.get(key) not in (None, ""):
                return str(value[key])
        return None
    if isinstance(value, list):
        labels = [label for label in (_label(item) for item in value) if label]
        return ", ".join(labels) if labels else None
    if isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _text(value: Any) -> str | None:
    """Plain text or an Atlassian Document Format node (API v3) flattened to its text."""
    if isinstance(value, Mapping):
        if value.get("type") == "text":
            return value.get("text")
        parts = [_text(child) for child in value.get("content", [])]
        joined = "\n".join(part for part in parts if part)
        return joined or None
    return _label(value)


def _load_issues(path: Path) -> list[Mapping[str, Any]]:
    try:
        document = json.loads(Path(path).read_bytes())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(path, EXPECTED, f"it is not readable JSON ({error})") from error
    pages = document if isinstance(document, list) else [document]
    issues: list[Mapping[str, Any]] = []
    for page in pages:
        if not isinstance(page, Mapping) or not isinstance(page.get("issues"), list):
            raise FormatError(path, EXPECTED, 'expected {"issues": [...]} (or a list of pages)')
        issues.extend(page["issues"])
    if not all(isinstance(issue, Mapping) and "fields" in issue for issue in issues):
        raise FormatError(path, EXPECTED, "an issue has no fields object")
    if issues and not any("changelog" in issue for issue in issues):
        raise FormatError(path, EXPECTED, "no changelog: export with expand=changelog")
    return issues


def parse(
    path: Path, *, mapping: JiraMapping | Path | None = None, date_format: str | None = None
) -> ParsedExport:
    """The REST API writes ISO 8601 with an offset, always: any other date is a bad date, unless
    `date_format` (`--date-format`, for a file another tool rewrote) says otherwise."""
    if mapping is None:
        mapping = JiraMapping()
    elif not isinstance(mapping, JiraMapping):
        mapping = JiraMapping.from_file(mapping)
    mapping.validate()
    issues = _load_issues(path)
    field_ids = {jira_id: canonical for canonical, jira_id in mapping.fields.items()}
    wanted_types = {name.lower() for name in mapping.issue_types}
    problem_types = {name.lower() for name in mapping.problem_types}

    issue_rows: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    problem_rows: list[dict[str, Any]] = []
    skipped = 0
    for line, issue in enumerate(issues, start=1):
        fields = issue["fields"]
        issue_type = _label(fields.get("issuetype"))
        if (issue_type or "").lower() in problem_types:
            problem_rows.append(_problem_row(line, issue))
            continue
        if (issue_type or "").lower() not in wanted_types:
            skipped += 1
            continue
        key = _label(issue.get("key"))
        row = {
            "_line": line,
            "external_id": key,
            "number": key,
            "title": _text(fields.get("summary")) or key,
            "description": _text(fields.get("description")),
            "requester": _label(fields.get("reporter")) or _label(fields.get("creator")),
            "opened_by": _label(fields.get("creator")) or _label(fields.get("reporter")),
            "assignee": _label(fields.get("assignee")),
            "state": _label(fields.get("status")),
            "priority": _label(fields.get("priority")),
            "resolution_code": _label(fields.get("resolution")),
            "opened_at": fields.get("created"),
            "updated_at": fields.get("updated"),
            "resolved_at": fields.get("resolutiondate"),
            "service": _label(fields.get("components")),
            "problem_ref": _linked_problem(fields, problem_types),
        }
        for canonical, jira_id in mapping.fields.items():
            row[canonical] = _label(fields.get(jira_id))
        issue_rows.append(row)
        changelog = issue.get("changelog") or {}
        histories = changelog.get("histories") or []
        missing = _missing_histories(changelog, len(histories))
        row["missing_updates"] = None if missing is None else str(missing)
        if missing:
            # Where the changelog was cut: before the histories it holds when it starts past
            # the first, else after them.
            at_start = (changelog.get("startAt") or 0) > 0 and histories
            edge = histories[0] if at_start else (histories[-1] if histories else None)
            change_rows.append(
                {
                    "_line": line,
                    "external_id": key,
                    "_path": "changelog",
                    "_order": -1 if at_start else 9_999_999,
                    "occurred_at": (edge or {}).get("created") or fields.get("created"),
                    "actor": None,
                    "jira_field": history.HISTORY_GAP,
                    "canonical": None,
                    "old": None,
                    "new": f"{missing} update(s) missing from the export (the changelog holds "
                    f"{len(histories)} of {changelog.get('total')} histories)",
                }
            )
        for history_index, entry in enumerate(histories):
            for item_index, item in enumerate(entry.get("items") or []):
                name = item.get("fieldId") or item.get("field")
                canonical = field_ids.get(name) or field_ids.get(item.get("field"))
                change_rows.append(
                    {
                        "_line": line,
                        "external_id": key,
                        "_path": f"changelog.histories[{history_index}].items[{item_index}]",
                        "_order": history_index * 1000 + item_index,
                        "occurred_at": entry.get("created"),
                        "actor": _label(entry.get("author")),
                        "jira_field": (item.get("field") or "").lower(),
                        "canonical": canonical,
                        "old": item.get("fromString") or None,
                        "new": item.get("toString") or None,
                    }
                )
        comments = ((fields.get("comment") or {}).get("comments")) or []
        for comment_index, comment in enumerate(comments):
            public = comment.get("jsdPublic", True)
            change_rows.append(
                {
                    "_line": line,
                    "external_id": key,
                    "_path": f"fields.comment.comments[{comment_index}]",
                    "_order": 10_000_000 + comment_index,
                    "occurred_at": comment.get("created"),
                    "actor": _label(comment.get("author")),
                    "jira_field": "comment" if public else "work_note",
                    "canonical": None,
                    "old": None,
                    "new": _text(comment.get("body")),
                }
            )

    issues_frame = pl.DataFrame(issue_rows, schema=_ISSUE_SCHEMA | _custom(mapping))
    changes_frame = pl.DataFrame(change_rows, schema=_CHANGE_SCHEMA)
    date_formats = dates.from_user(date_format) if date_format else DATE_FORMATS
    parsed = _build(
        issues_frame,
        changes_frame,
        mapping=mapping,
        date_formats=date_formats,
        path=Path(path),
        rows=len(issues),
        skipped=skipped,
    )
    problems, problem_rejects = _problems(problem_rows, mapping)
    parsed.problems = problems
    named = rejects.name_file(problem_rejects, Path(path).name)
    parsed.rejects = rejects.combine([parsed.rejects, named])
    return parsed


def _missing_histories(changelog: Mapping[str, Any], held: int) -> int | None:
    """Histories the changelog says the issue has (`total`) that the file lacks: the search API
    returns at most a page of them. None when the changelog does not say."""
    total = changelog.get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        return None
    return max(total - held, 0)


def _linked_problem(fields: Mapping[str, Any], problem_types: set[str]) -> str | None:
    """The key of the first issue of a problem type that the issue links to (either way)."""
    for link in fields.get("issuelinks") or []:
        if not isinstance(link, Mapping):
            continue
        for side in ("outwardIssue", "inwardIssue"):
            other = link.get(side)
            if not isinstance(other, Mapping):
                continue
            other_type = _label((other.get("fields") or {}).get("issuetype"))
            if (other_type or "").lower() in problem_types and _label(other.get("key")):
                return _label(other.get("key"))
    return None


def _problem_row(line: int, issue: Mapping[str, Any]) -> dict[str, Any]:
    fields = issue["fields"]
    key = _label(issue.get("key"))
    return {
        "_line": line,
        "external_id": key,
        "number": key,
        "title": _text(fields.get("summary")) or key,
        "description": _text(fields.get("description")),
        "state": _label(fields.get("status")),
        "priority": _label(fields.get("priority")),
        "owner": _label(fields.get("assignee")),
        "service": _label(fields.get("components")),
        "opened_at": fields.get("created"),
        "resolved_at": fields.get("resolutiondate"),
    }


_PROBLEM_ROW_SCHEMA = {
    "_line": pl.Int64,
    **{
        name: pl.String
        for name in (
            "external_id",
            "number",
            "title",
            "description",
            "state",
            "priority",
            "owner",
            "service",
            "opened_at",
            "resolved_at",
        )
    },
}


def _problems(
    rows: list[dict[str, Any]], mapping: JiraMapping
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Problem issues as canonical problems (a problem resolved in Jira has its resolution
    date; one closed without one is closed when last updated, which Jira does not say: left
    empty)."""
    frame = pl.DataFrame(rows, schema=_PROBLEM_ROW_SCHEMA)
    problems, found = convert.convert(
        frame,
        convert.Conversion(
            entity="problems",
            source_system=mapping.source_system,
            source_columns={
                "external_id": "key",
                "number": "key",
                "state": "fields.status",
                "priority": "fields.priority",
                "opened_at": "fields.created",
                "resolved_at": "fields.resolutiondate",
            },
            value_maps={"state": mapping.problem_statuses, "priority": mapping.priorities},
            date_formats=DATE_FORMATS,
        ),
    )
    return schema.conform(problems, "problems"), found


_ISSUE_SCHEMA = {
    "_line": pl.Int64,
    **{
        name: pl.String
        for name in (
            "external_id",
            "number",
            "title",
            "description",
            "requester",
            "opened_by",
            "assignee",
            "state",
            "priority",
            "resolution_code",
            "opened_at",
            "updated_at",
            "resolved_at",
            "service",
            "problem_ref",
            "missing_updates",
        )
    },
}
_CHANGE_SCHEMA = {
    "_line": pl.Int64,
    "external_id": pl.String,
    "_path": pl.String,
    "_order": pl.Int64,
    "occurred_at": pl.String,
    "actor": pl.String,
    "jira_field": pl.String,
    "canonical": pl.String,
    "old": pl.String,
    "new": pl.String,
}


def _custom(mapping: JiraMapping) -> dict[str, type[pl.DataType]]:
    return {canonical: pl.String for canonical in mapping.fields}


def _state_pair(expr: pl.Expr, statuses: Mapping[str, object]) -> tuple[pl.Expr, pl.Expr]:
    mapped = parsing.lookup(expr, convert.state_map_entries(statuses), pl.String())
    parts = mapped.str.split("|")
    return parts.list.get(0, null_on_oob=True), parts.list.get(1, null_on_oob=True)


def _build(
    issues: pl.DataFrame,
    changes: pl.DataFrame,
    *,
    mapping: JiraMapping,
    path: Path,
    rows: int,
    skipped: int,
    date_formats: tuple[str, ...] = DATE_FORMATS,
) -> ParsedExport:
    source_system = mapping.source_system
    incidents, found = convert.convert(
        issues,
        convert.Conversion(
            entity="incidents",
            source_system=source_system,
            source_columns={
                "external_id": "key",
                "number": "key",
                "state": "fields.status",
                "priority": "fields.priority",
                "opened_at": "fields.created",
                "updated_at": "fields.updated",
                "resolved_at": "fields.resolutiondate",
                **{canonical: f"fields.{jira}" for canonical, jira in mapping.fields.items()},
            },
            value_maps={
                "state": mapping.statuses,
                "priority": mapping.priorities,
                **mapping.values,
            },
            date_formats=date_formats,
        ),
    )

    # Changelog checks: a history that cannot be read rejects its issue.
    state_from, hold_from = _state_pair(pl.col("old"), mapping.statuses)
    state_to, hold_to = _state_pair(pl.col("new"), mapping.statuses)
    priority_from = parsing.lookup(pl.col("old"), mapping.priorities, pl.Int8())
    priority_to = parsing.lookup(pl.col("new"), mapping.priorities, pl.Int8())
    changes = changes.with_columns(
        parsing.timestamp(pl.col("occurred_at"), date_formats).alias("_occurred_at"),
        state_from.alias("_state_from"),
        hold_from.alias("_hold_from"),
        state_to.alias("_state_to"),
        hold_to.alias("_hold_to"),
        priority_from.alias("_priority_from"),
        priority_to.alias("_priority_to"),
        pl.col("external_id").alias("_external_id"),
    )
    is_status = pl.col("jira_field").eq("status")
    is_priority = pl.col("jira_field").eq("priority")
    history_rejects = []
    for side, label in (("from", "fromString"), ("to", "toString")):
        raw = "old" if side == "from" else "new"
        for kind, condition, reason in (
            (
                "status",
                is_status & pl.col(raw).is_not_null() & pl.col(f"_state_{side}").is_null(),
                rejects.UNKNOWN_STATE,
            ),
            (
                "priority",
                is_priority & pl.col(raw).is_not_null() & pl.col(f"_priority_{side}").is_null(),
                rejects.UNKNOWN_VALUE,
            ),
        ):
            history_rejects.append(
                rejects.rejects_where(
                    changes,
                    condition,
                    column=f"changelog {kind} {label}",
                    reason=reason,
                    value=pl.col(raw),
                    detail=f"no mapping for this {kind}",
                )
            )
    history_rejects.append(
        rejects.rejects_where(
            changes,
            pl.col("occurred_at").is_not_null() & pl.col("_occurred_at").is_null(),
            column="changelog created",
            reason=rejects.BAD_DATE,
            value=pl.col("occurred_at"),
            detail=f"not a date in the file's format ({dates.describe(date_formats)})",
        )
    )
    found = rejects.combine([found, *history_rejects])
    bad_lines = found.get_column("line").unique().implode()
    incidents = incidents.filter(~pl.col(parsing.LINE).is_in(bad_lines))
    # Histories and comments in time order (Jira pages them oldest first, but do not rely on it).
    changes = (
        changes.filter(~pl.col(parsing.LINE).is_in(bad_lines))
        .sort("external_id", "_occurred_at", "_order")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_order"))
    )
    incidents = history.with_source_figures(
        schema.conform(incidents, "incidents"),
        recorded=changes.filter(pl.col("jira_field").eq("status")).get_column("external_id"),
    )
    events = _events(incidents, changes, source_system=source_system)
    return ParsedExport(
        source=NAME,
        source_system=source_system,
        path=path,
        rows_read=rows,
        skipped=skipped,
        incidents=incidents,
        events=events,
        rejects=found,
    )


def _events(incidents: pl.DataFrame, changes: pl.DataFrame, *, source_system: str) -> pl.DataFrame:
    """created, then what the ticket started with, then each changelog item and comment."""
    field = pl.col("jira_field")

    def first_of(condition: pl.Expr, column: str) -> pl.DataFrame:
        return (
            changes.filter(condition)
            .sort("external_id", "_order")
            .group_by("external_id", maintain_order=True)
            .agg(pl.col(column).first().alias(f"_initial_{column}"))
        )

    is_group = pl.col("canonical").eq("assignment_group")
    start = (
        incidents.join(first_of(field.eq("status"), "_state_from"), on="external_id", how="left")
        .join(first_of(field.eq("status"), "_hold_from"), on="external_id", how="left")
        .join(first_of(field.eq("assignee"), "old"), on="external_id", how="left")
        .join(
            first_of(is_group, "old").rename({"_initial_old": "_initial_group"}),
            on="external_id",
            how="left",
        )
        .with_columns(
            pl.coalesce("_initial__state_from", "state").alias("_initial_state"),
            pl.when(pl.col("_initial__state_from").is_not_null())
            .then(pl.col("_initial__hold_from"))
            .otherwise(pl.col("hold_reason"))
            .alias("_initial_hold"),
        )
    )
    has_assignee_history = pl.col("external_id").is_in(
        changes.filter(field.eq("assignee")).get_column("external_id").unique().implode()
    )
    has_group_history = pl.col("external_id").is_in(
        changes.filter(is_group).get_column("external_id").unique().implode()
    )
    start = start.with_columns(
        pl.when(has_assignee_history).then("_initial_old").otherwise("assignee").alias("_a0"),
        pl.when(has_group_history)
        .then("_initial_group")
        .otherwise("assignment_group")
        .alias("_g0"),
    )

    def initial(condition, rank, kind, field_name, old, new) -> pl.DataFrame:
        return start.filter(condition).select(
            "external_id",
            pl.lit(-1, pl.Int64).alias("_order"),
            pl.lit(rank, pl.Int32).alias("_rank"),
            pl.col("opened_at").alias("occurred_at"),
            (pl.col("opened_by") if kind == "created" else pl.lit(None, pl.String)).alias("actor"),
            pl.lit(kind).alias("kind"),
            pl.lit(field_name, pl.String).alias("field"),
            old.cast(pl.String).alias("old_value"),
            new.cast(pl.String).alias("new_value"),
        )

    nothing = pl.lit(None, pl.String)
    parts = [
        initial(pl.lit(True), 0, "created", None, nothing, pl.col("number")),
        initial(
            pl.col("_g0").is_not_null(), 1, "assigned", "assignment_group", nothing, pl.col("_g0")
        ),
        initial(pl.col("_a0").is_not_null(), 2, "assigned", "assignee", nothing, pl.col("_a0")),
        initial(
            pl.col("_initial_state").ne("new"),
            3,
            "state_changed",
            "state",
            pl.lit("new"),
            pl.col("_initial_state"),
        ),
        initial(
            pl.col("_initial_hold").is_not_null(),
            4,
            "field_changed",
            "hold_reason",
            nothing,
            pl.col("_initial_hold"),
        ),
    ]

    def changed(condition, rank, kind, field_name, old, new) -> pl.DataFrame:
        return changes.filter(condition).select(
            "external_id",
            "_order",
            pl.lit(rank, pl.Int32).alias("_rank"),
            pl.col("_occurred_at").alias("occurred_at"),
            "actor",
            pl.lit(kind).alias("kind"),
            (
                field_name if isinstance(field_name, pl.Expr) else pl.lit(field_name, pl.String)
            ).alias("field"),
            old.cast(pl.String).alias("old_value"),
            new.cast(pl.String).alias("new_value"),
        )

    canonical = pl.col("canonical")
    plain_fields = {
        "summary": "title",
        "description": "description",
        "resolution": "resolution_code",
    }
    is_status = field.eq("status")
    parts += [
        changed(
            is_status & pl.col("_state_from").ne_missing(pl.col("_state_to")),
            1,
            "state_changed",
            "state",
            pl.col("_state_from"),
            pl.col("_state_to"),
        ),
        changed(
            is_status & pl.col("_hold_from").ne_missing(pl.col("_hold_to")),
            2,
            "field_changed",
            "hold_reason",
            pl.col("_hold_from"),
            pl.col("_hold_to"),
        ),
        changed(field.eq("assignee"), 1, "assigned", "assignee", pl.col("old"), pl.col("new")),
        changed(is_group, 1, "assigned", "assignment_group", pl.col("old"), pl.col("new")),
        changed(
            field.eq("priority"),
            1,
            "priority_changed",
            "priority",
            pl.col("_priority_from"),
            pl.col("_priority_to"),
        ),
        changed(
            field.is_in(list(plain_fields)) & canonical.is_null(),
            1,
            "field_changed",
            field.replace(plain_fields),
            pl.col("old"),
            pl.col("new"),
        ),
        changed(
            canonical.is_not_null() & ~is_group,
            1,
            "field_changed",
            canonical,
            pl.col("old"),
            pl.col("new"),
        ),
        changed(field.eq("comment"), 1, "comment_added", None, nothing, pl.col("new")),
        changed(field.eq("work_note"), 1, "work_note_added", None, nothing, pl.col("new")),
        # Everything else Jira tracked is kept under its Jira field name, so nothing is lost.
        changed(
            ~field.is_in(["status", "assignee", "priority", "comment", "work_note", *plain_fields])
            & canonical.is_null(),
            1,
            "field_changed",
            field,
            pl.col("old"),
            pl.col("new"),
        ),
    ]
    return history.finish_events(parts, source_system=source_system, synthesized=False)
