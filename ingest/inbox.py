"""The inbox folder: `ITSM_HOME/inbox/<source>/` holds exports waiting to be imported.

`process_inbox(home)` imports every file found there (the pipelines' sensor calls it, or
`process_file` for one file) and moves each file aside with its report:
- imported files go to `inbox/<source>/processed/`, with `<file>.report.json` and, when rows
  were rejected, `<file>.rejects.csv` / `.rejects.json`;
- files that could not be imported go to `inbox/<source>/failed/` with a report giving the
  reason (`<file>.report.json`, its `error`): a wrong format or a bad mapping, every row rejected
  or more than `ITSM_INBOX_MAX_REJECT_RATE` (nothing loaded; the rejects report beside), a file over
  `ITSM_INGEST_MAX_FILE_BYTES`, a file (or mapping) that is a symlink leading out of the
  folder, and any other failure (deeply nested JSON, a database error, a polars panic). One
  bad file never blocks the others: the run goes on to the next. A batch that failed was
  rolled back whole; the batches of that file committed before it stay (a re-run of the
  file skips them, as imports are idempotent).

Files whose dates do not say their format are read with `ITSM_INGEST_DATE_FORMAT` when set.
Sources that need a mapping (generic, and optionally jira) read it from `<file>.mapping.yaml`
beside the file, else from `mapping.yaml` in the source's folder. Mapping files are not data.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from polars.exceptions import PanicException
from sqlalchemy import Engine

from ingest import loader, paths, rejects, sources
from ingest.exceptions import IngestError, MappingError
from ingest.loader.report import write_rejects
from operational.core.config import get_settings

logger = logging.getLogger("ingest.inbox")

MAPPING_SUFFIX = ".mapping.yaml"
SHARED_MAPPING = "mapping.yaml"


@dataclass
class InboxResult:
    source: str
    file: Path  # where the file was moved to
    report: Path
    succeeded: bool
    summary: dict[str, int] | None = None
    error: str | None = None


def inbox_dir(home: Path) -> Path:
    return Path(home) / "inbox"


def _mapping_for(path: Path) -> Path | None:
    beside = path.with_name(path.name + MAPPING_SUFFIX)
    if beside.exists():
        return beside
    shared = path.parent / SHARED_MAPPING
    return shared if shared.exists() else None


def pending_files(home: Path) -> list[tuple[str, Path]]:
    """(source, file) for every data file waiting in the inbox, oldest first."""
    found = []
    root = inbox_dir(home)
    for source in sources.SOURCES:
        folder = root / source
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            is_mapping = path.name.endswith(MAPPING_SUFFIX) or path.name == SHARED_MAPPING
            if path.is_file() and not is_mapping and not path.name.startswith("."):
                found.append((source, path))
    return sorted(found, key=lambda item: (item[1].stat().st_mtime, item[1].name))


def _refusal(path: Path, mapping: Path | None, max_bytes: int) -> str | None:
    """Why ``path`` is not even read, or None."""
    for name, candidate in (("the file", path), ("its mapping", mapping)):
        if candidate is None:
            continue
        try:
            paths.inside(path.parent, candidate.name, what=name)
        except MappingError as error:
            return str(error)
    size = path.stat().st_size
    if size > max_bytes:
        return (
            f"the file is {size:,} bytes, over the limit of {max_bytes:,} "
            "(ITSM_INGEST_MAX_FILE_BYTES)"
        )
    return None


def _failed(
    source: str, path: Path, stamp: str, error: str, *, rejects_path: Path | None = None
) -> InboxResult:
    moved = _move(path, path.parent / "failed", stamp)
    report_path = moved.with_name(moved.name + ".report.json")
    body = {"source": source, "error": error}
    if rejects_path is not None:
        body["rejects"] = str(rejects_path)
    report_path.write_text(json.dumps(body, indent=2))
    return InboxResult(source, moved, report_path, succeeded=False, error=error)


def _move(path: Path, folder: Path, stamp: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stamp}-{path.name}"
    shutil.move(str(path), target)
    return target


def process_file(
    source: str, path: Path, *, mapping: Path | None = None, engine: Engine | None = None
) -> InboxResult:
    """Import one file of the inbox and move it aside with its report."""
    path = Path(path)
    found_beside = mapping is None
    mapping = mapping or _mapping_for(path)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    settings = get_settings()
    max_bytes = settings.ingest_max_file_bytes
    options = {"date_format": settings.ingest_date_format} if settings.ingest_date_format else {}
    destination = path.parent / "processed"
    try:
        refused = _refusal(path, mapping if found_beside else None, max_bytes)
        if refused is not None:
            return _failed(source, path, stamp, refused)
        parsed = sources.parse(source, path, mapping=mapping, **options)
        too_many = rejects.rate_failure(
            parsed.rejects,
            file_name=path.name,
            rows_read=parsed.rows_read,
            max_rate=settings.inbox_max_reject_rate / 100,
            limit_name="ITSM_INBOX_MAX_REJECT_RATE",
        )
        if too_many:
            written = write_rejects(parsed.rejects, parsed.path, path.parent / "failed" / stamp)
            return _failed(source, path, stamp, too_many, rejects_path=written)
        report = loader.load(parsed, engine=engine, rejects_dir=destination / stamp)
    except IngestError as error:
        return _failed(source, path, stamp, str(error))
    except (Exception, PanicException) as error:  # a polars panic is no Exception
        logger.exception("importing %s failed", path)
        return _failed(source, path, stamp, f"{type(error).__name__}: {error}"[:2000])
    moved = _move(path, destination, stamp)
    report_path = moved.with_name(moved.name + ".report.json")
    body = {
        "source": source,
        "source_system": report.source_system,
        "import_run_id": report.run_id,
        "summary": report.summary(),
        "counts": {name: vars(counts) for name, counts in report.counts.items()},
        "rejects": str(report.rejects_path) if report.rejects_path else None,
    }
    report_path.write_text(json.dumps(body, indent=2))
    return InboxResult(source, moved, report_path, succeeded=True, summary=report.summary())


def process_inbox(home: Path, *, engine: Engine | None = None) -> list[InboxResult]:
    """Import everything waiting under `home/inbox/<source>/`, each file on its own: a file that
    fails is moved to failed/ and the next one is imported all the same."""
    return [process_file(source, path, engine=engine) for source, path in pending_files(home)]
