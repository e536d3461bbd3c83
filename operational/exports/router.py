"""Compliance exports for auditors: list, inspect and download (each download is audited)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.core.config import get_settings
from operational.core.db import DbSession
from operational.core.pagination import PageQuery
from operational.exports import service
from operational.exports.dependencies import CurrentExport
from operational.exports.schemas import ExportPage, ExportRead

router = APIRouter(prefix="/exports", tags=["exports"])

MEDIA_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "jsonl": "application/jsonl",  # the audit trail's events and chain heads
    "py": "text/x-python",  # the offline verifier
}


@router.get("", response_model=ExportPage, dependencies=[require("export:read")])
def list_exports(
    session: DbSession,
    params: PageQuery,
    covers: Annotated[
        date | None, Query(description="Only exports whose period includes this day")
    ] = None,
) -> ExportPage:
    page = service.list_exports(session=session, params=params, covers=covers)
    return page.map(ExportRead.model_validate)


@router.get("/{export_id}", response_model=ExportRead, dependencies=[require("export:read")])
def get_export(export: CurrentExport) -> ExportRead:
    return ExportRead.model_validate(export)


@router.get(
    "/{export_id}/files/{name}",
    response_class=FileResponse,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
)
def download_file(
    export: CurrentExport,
    name: str,
    session: DbSession,
    user: Annotated[User, require("export:read")],
) -> FileResponse:
    directory = service.exports_dir(get_settings())
    record, path = service.file_for_download(export=export, name=name, directory=directory)
    service.record_download(session=session, export=export, file=record, actor=user)
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[record.format],
        filename=record.name,
        headers={"X-Content-SHA256": record.sha256},
    )
