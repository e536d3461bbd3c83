"""Compliance exports: the compliance marts of one period, written once as CSV, Parquet and XLSX,
with a ``manifest.json`` of every file's sha256 and row count, and recorded in the database.

Each export also carries the event log's audit trail of the period (``audit_*`` files: the
events recorded in it with their hashes, a new seal and its chain heads) and ``verify_audit.py``,
which checks the folder offline with Python's standard library alone (docs/security.md).

An export folder is never rewritten. A re-run for the same period makes a new version (a new
folder). Files are written to a hidden staging folder, made read-only and then renamed into
place, so a folder that exists is complete.
"""

import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import polars as pl
from defusedxml import ElementTree
from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from operational.audit import service as audit_service
from operational.auth.models import User
from operational.core.config import Settings, get_settings
from operational.core.errors import BadRequest, Conflict, NotFound
from operational.core.pagination import Page, PageParams, paginate
from operational.core.spreadsheets import escape_frame
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.exports.models import Export, ExportFile

MARTS_SCHEMA = "marts"
# Marts with personal data (the access review), readable by auditors only (docs/security.md).
PERSONAL_SCHEMA = "personal"
MANIFEST_NAME = "manifest.json"
WORKBOOK_NAME = "compliance.xlsx"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# One export at a time per database, so that versions are consecutive.
_EXPORT_LOCK_KEY = 0x17_5E_0E_C5


@dataclass(frozen=True)
class ComplianceMart:
    """A mart in every export. ``period_column`` picks the rows of the period; a mart without
    one (e.g. the access review) is a snapshot taken when the export is generated."""

    name: str
    period_column: str | None
    sheet: str  # XLSX sheet names are at most 31 characters
    schema: str = MARTS_SCHEMA


# The marts of dbt/models/marts/compliance/. Their dates are days of dbt's reporting time zone.
COMPLIANCE_MARTS: tuple[ComplianceMart, ...] = (
    ComplianceMart("sla_breach_register", "breached_date", "SLA breaches"),
    ComplianceMart("change_approval_evidence", "implemented_date", "Change approvals"),
    ComplianceMart("access_review", None, "Access review", PERSONAL_SCHEMA),
    ComplianceMart("audit_trail_summary", "activity_date", "Audit trail"),
    ComplianceMart("sla_source_comparison", "resolved_date", "SLA source comparison"),
    ComplianceMart("request_approval_evidence", "decided_date", "Request approvals"),
    # How far imported tickets' replayed histories agree with their source systems (all time:
    # a snapshot when the export is generated).
    ComplianceMart("source_reconciliation_summary", None, "Source reconciliation"),
)

SORTABLE = {
    "id": Export.id,
    "period_start": Export.period_start,
    "period_end": Export.period_end,
    "version": Export.version,
    "generated_at": Export.generated_at,
}


_AUDIT_FORMATS = {".jsonl": "jsonl", ".json": "json", ".py": "py"}


def exports_dir(settings: Settings) -> Path:
    return settings.home / "exports"


# -- periods -------------------------------------------------------------------------------


def previous_day(today: date) -> tuple[date, date]:
    day = today - timedelta(days=1)
    return day, day


def previous_month(today: date) -> tuple[date, date]:
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


# -- creating an export -------------------------------------------------------------------


def create_export(
    *,
    session: Session,
    period_start: date,
    period_end: date,
    directory: Path,
    generated_by: str,
    marts: Sequence[ComplianceMart] = COMPLIANCE_MARTS,
    now: datetime | None = None,
    audit_key: str | None = None,
) -> Export:
    """Write a new version of the export of ``period_start``..``period_end`` (both inclusive).

    ``audit_key`` signs the export's seal; by default the install's (``ITSM_AUDIT_KEY``)."""
    if period_start > period_end:
        raise BadRequest("The period starts after it ends", start=str(period_start))
    generated_at = (now or datetime.now(UTC)).astimezone(UTC)
    session.execute(select(func.pg_advisory_xact_lock(_EXPORT_LOCK_KEY)))
    existing = _existing_marts(session)
    missing = sorted({mart.name for mart in marts if (mart.schema, mart.name) not in existing})
    if missing:
        raise Conflict(
            "The compliance marts are not built yet; run the pipelines first",
            missing=missing,
        )
    frames = {mart.name: _read_mart(session, mart, period_start, period_end) for mart in marts}

    export_version = _next_version(session, period_start, period_end, directory)
    folder_name = f"{period_start}_{period_end}_v{export_version}"
    final = directory / folder_name
    staging = directory / f".{folder_name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    entries = _write_data_files(staging, marts, frames, period_end=period_end)
    trail = audit_service.write_trail(
        session=session,
        key=audit_key or get_settings().audit_key.get_secret_value(),
        since=datetime.combine(period_start, time.min, UTC),
        until=datetime.combine(period_end + timedelta(days=1), time.min, UTC),
        folder=staging,
    )
    entries += [
        _entry(staging / name, _AUDIT_FORMATS[Path(name).suffix], mart=None, rows=rows)
        for name, rows in trail.items()
    ]
    seal = json.loads((staging / "audit_seal.json").read_text())
    definitions = definitions_version()
    manifest = {
        "period": {"start": str(period_start), "end": str(period_end)},
        "version": export_version,
        "generated_at": generated_at.isoformat(),
        "generated_by": generated_by,
        "definitions": definitions,
        "marts": [
            {
                "name": mart.name,
                "rows": frames[mart.name].height,
                "selection": (
                    f"{mart.period_column} within the period (UTC)"
                    if mart.period_column
                    else "snapshot at generation time"
                ),
            }
            for mart in marts
        ],
        "audit": {
            "events": trail["audit_events.jsonl"],
            "selection": "events recorded within the period (UTC), with their hash chains",
            "seal": {name: seal[name] for name in ("seal_id", "sealed_at", "root", "key_id")},
            "verify": "python3 verify_audit.py (in this folder)",
        },
        "files": entries,
    }
    manifest_path = staging / MANIFEST_NAME
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    for path in staging.iterdir():
        path.chmod(0o444)
    staging.rename(final)

    export = Export(
        period_start=period_start,
        period_end=period_end,
        version=export_version,
        folder=folder_name,
        generated_at=generated_at,
        generated_by=generated_by,
        git_commit=definitions["git_commit"],
        dbt_version=definitions["dbt_version"],
        manifest_sha256=_sha256(final / MANIFEST_NAME),
    )
    export.files = [
        ExportFile(
            name=entry["name"],
            format=entry["format"],
            mart=entry.get("mart"),
            row_count=entry["rows"],
            size_bytes=entry["bytes"],
            sha256=entry["sha256"],
        )
        for entry in entries
    ] + [
        ExportFile(
            name=MANIFEST_NAME,
            format="json",
            mart=None,
            row_count=None,
            size_bytes=(final / MANIFEST_NAME).stat().st_size,
            sha256=export.manifest_sha256,
        )
    ]
    session.add(export)
    session.flush()
    events.append(
        session=session,
        entity_type=EntityType.export,
        entity_id=export.id,
        kind=EventKind.created,
        actor=None,
        actor_label=generated_by,
        new_value=folder_name,
        data={"manifest_sha256": export.manifest_sha256},
        occurred_at=generated_at,
    )
    return export


def _existing_marts(session: Session) -> set[tuple[str, str]]:
    rows = session.execute(
        text(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (:marts, :personal)"
        ),
        {"marts": MARTS_SCHEMA, "personal": PERSONAL_SCHEMA},
    )
    return {(row[0], row[1]) for row in rows}


def _read_mart(
    session: Session, mart: ComplianceMart, period_start: date, period_end: date
) -> pl.DataFrame:
    relation = f'{mart.schema}."{mart.name}"'
    parameters: dict[str, Any] = {}
    where = ""
    if mart.period_column:
        column = f'"{mart.period_column}"'
        if _column_type(session, mart) == "date":
            where = f"where {column} between :start and :end"
            parameters = {"start": period_start, "end": period_end}
        else:  # a timestamp: the period's days in UTC
            where = f"where {column} >= :start and {column} < :end"
            parameters = {
                "start": datetime.combine(period_start, time.min, UTC),
                "end": datetime.combine(period_end + timedelta(days=1), time.min, UTC),
            }
    result = session.execute(text(f"select * from {relation} {where}"), parameters)
    columns = list(result.keys())
    rows = result.all()
    if not rows:
        return pl.DataFrame(schema={name: pl.String for name in columns})
    return pl.DataFrame(
        [tuple(row) for row in rows], schema=columns, orient="row", infer_schema_length=None
    )


def _column_type(session: Session, mart: ComplianceMart) -> str:
    data_type = session.scalar(
        text(
            "select data_type from information_schema.columns"
            " where table_schema = :schema and table_name = :table and column_name = :column"
        ),
        {"schema": mart.schema, "table": mart.name, "column": mart.period_column},
    )
    if data_type is None:
        raise Conflict(
            f"Mart {mart.name!r} has no column {mart.period_column!r} to select the period by",
            mart=mart.name,
        )
    return data_type


def _next_version(session: Session, period_start: date, period_end: date, directory: Path) -> int:
    recorded = session.scalar(
        select(func.max(Export.version)).where(
            Export.period_start == period_start, Export.period_end == period_end
        )
    )
    # A folder whose transaction rolled back keeps its number: never reuse it.
    pattern = re.compile(rf"^{period_start}_{period_end}_v(\d+)$")
    on_disk = [
        int(match.group(1))
        for path in (directory.iterdir() if directory.exists() else ())
        if (match := pattern.match(path.name))
    ]
    return max([recorded or 0, *on_disk]) + 1


def _write_data_files(
    folder: Path,
    marts: Sequence[ComplianceMart],
    frames: dict[str, pl.DataFrame],
    *,
    period_end: date,
) -> list[dict[str, Any]]:
    import xlsxwriter

    entries: list[dict[str, Any]] = []
    for mart in marts:
        frame = frames[mart.name]
        csv_path = folder / f"{mart.name}.csv"
        # Spreadsheets open CSV and XLSX: text that would start a formula is escaped there.
        # Parquet is typed data for analysts' tools and keeps every value as it is.
        escape_frame(frame).write_csv(csv_path)
        parquet_path = folder / f"{mart.name}.parquet"
        frame.write_parquet(parquet_path)
        for path, file_format in ((csv_path, "csv"), (parquet_path, "parquet")):
            entries.append(_entry(path, file_format, mart=mart.name, rows=frame.height))

    workbook_path = folder / WORKBOOK_NAME
    # Excel has no time zones: every timestamp in the workbook is UTC.
    # Cells are data, never formulas or links, whatever a user wrote into them.
    options = {"remove_timezone": True, "strings_to_formulas": False, "strings_to_urls": False}
    with xlsxwriter.Workbook(workbook_path, options) as workbook:
        # The file's created time is the period's end, not the clock: the same period exported
        # twice gives the same bytes.
        workbook.set_properties({"created": datetime.combine(period_end, time.min)})
        for mart in marts:
            _excel_safe(frames[mart.name]).write_excel(workbook, worksheet=mart.sheet, autofit=True)
    entry = _entry(
        workbook_path, "xlsx", mart=None, rows=sum(frame.height for frame in frames.values())
    )
    entry["sheets"] = {mart.sheet: frames[mart.name].height for mart in marts}
    entries.append(entry)
    return entries


def _excel_safe(frame: pl.DataFrame) -> pl.DataFrame:
    durations = [name for name, dtype in frame.schema.items() if dtype == pl.Duration]
    return escape_frame(frame.with_columns(pl.col(name).dt.to_string("iso") for name in durations))


def _entry(path: Path, file_format: str, *, mart: str | None, rows: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": path.name, "format": file_format}
    if mart:
        entry["mart"] = mart
    entry.update(rows=rows, bytes=path.stat().st_size, sha256=_sha256(path))
    return entry


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def definitions_version() -> dict[str, Any]:
    """The version of the metric definitions: the git commit of the repository and dbt's own."""
    commit: str | None = None
    modified: bool | None = None
    try:
        commit = _git("rev-parse", "HEAD")
        modified = bool(_git("status", "--porcelain", "--untracked-files=no", "--", "dbt"))
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "git_commit": commit,
        "dbt_definitions_modified": modified,
        "dbt_version": _package_version("dbt-core"),
        "dbt_postgres_version": _package_version("dbt-postgres"),
    }


def _git(*arguments: str) -> str:
    completed = subprocess.run(
        ["git", *arguments],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return completed.stdout.strip()


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


# -- verifying ---------------------------------------------------------------------------


def verify_folder(folder: Path) -> list[str]:
    """Check an export folder against its manifest. Returns the problems; empty means verified.

    Each listed file must exist with its size, sha256 and row count (CSV and Parquet re-read,
    XLSX per sheet), and the folder must hold no file the manifest does not list.
    """
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        return [f"{MANIFEST_NAME} is missing"]
    manifest = json.loads(manifest_path.read_text())
    problems: list[str] = []
    listed = {MANIFEST_NAME}
    for entry in manifest["files"]:
        name = entry["name"]
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        if path.stat().st_size != entry["bytes"]:
            problems.append(f"{name}: {path.stat().st_size} bytes, manifest says {entry['bytes']}")
        if _sha256(path) != entry["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest")
            continue
        counted = _count_rows(path, entry["format"])
        expected = entry.get("sheets") or entry["rows"]
        if counted != expected:
            problems.append(f"{name}: {counted} rows, manifest says {expected}")
    for path in folder.iterdir():
        if path.name not in listed:
            problems.append(f"{path.name}: not listed in the manifest")
    return problems


def _count_rows(path: Path, file_format: str) -> int | dict[str, int]:
    if file_format == "csv":
        return pl.read_csv(path, infer_schema=False).height
    if file_format == "parquet":
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    if file_format == "xlsx":
        return _xlsx_sheet_rows(path)
    if file_format == "jsonl":
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    if file_format == "json":
        return 1
    if file_format == "py":
        return 0
    raise ValueError(f"unknown format {file_format!r}")


_SHEET_NS = {
    "main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "rel": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "pkg": "http://schemas.openxmlformats.org/package/2006/relationships",
}


def _xlsx_sheet_rows(path: Path) -> dict[str, int]:
    """Data rows per sheet (the header row excluded), from each sheet's used range. The folder
    being checked may come from anywhere: its XML is read with defusedxml (no entity
    expansion, no external entities)."""
    with zipfile.ZipFile(path) as archive:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {
            relation.get("Id"): relation.get("Target")
            for relation in relations.findall("pkg:Relationship", _SHEET_NS)
        }
        counts: dict[str, int] = {}
        for sheet in workbook.findall("main:sheets/main:sheet", _SHEET_NS):
            target = targets[sheet.get(f"{{{_SHEET_NS['rel']}}}id")]
            worksheet = ElementTree.fromstring(archive.read(f"xl/{target}"))
            reference = worksheet.find("main:dimension", _SHEET_NS).get("ref")
            last_row = int(re.sub(r"^[A-Z]+", "", reference.split(":")[-1]))
            counts[sheet.get("name")] = last_row - 1
    return counts


# -- reading and downloading ----------------------------------------------------------------


def list_exports(*, session: Session, params: PageParams, covers: date | None = None) -> Page[Any]:
    statement: Select[Any] = select(Export)
    if covers is not None:
        statement = statement.where(Export.period_start <= covers, Export.period_end >= covers)
    return paginate(
        session,
        statement,
        params,
        sortable=SORTABLE,
        default_sort=[Export.generated_at.desc(), Export.id.desc()],
    )


def get_export(*, session: Session, export_id: int) -> Export:
    export = session.get(Export, export_id)
    if export is None:
        raise NotFound(f"Export {export_id} does not exist", export_id=export_id)
    return export


def file_for_download(*, export: Export, name: str, directory: Path) -> tuple[ExportFile, Path]:
    """The recorded file ``name`` of ``export`` and its path. Names are plain file names."""
    if not name or name in (".", "..") or any(sep in name for sep in ("/", "\\", "\x00")):
        raise BadRequest("A file name, not a path, is expected", name=name)
    record = next((file for file in export.files if file.name == name), None)
    if record is None:
        raise NotFound(f"Export {export.id} has no file {name!r}", name=name)
    folder = (directory / export.folder).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise NotFound(f"File {name!r} of export {export.id} is not on disk", name=name)
    return record, path


def record_download(*, session: Session, export: Export, file: ExportFile, actor: User) -> None:
    """Append the download to the audit log (the export row is locked for the event sequence)."""
    session.execute(select(Export.id).where(Export.id == export.id).with_for_update())
    events.append(
        session=session,
        entity_type=EntityType.export,
        entity_id=export.id,
        kind=EventKind.downloaded,
        actor=actor,
        field="file",
        new_value=file.name,
        data={"sha256": file.sha256, "size_bytes": file.size_bytes},
    )


def folder_of(*, export: Export, directory: Path) -> Path:
    return directory / export.folder
