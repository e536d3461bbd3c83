from datetime import date, datetime

from operational.core.pagination import Page
from operational.core.schemas import ReadModel


class ExportFileRead(ReadModel):
    name: str
    format: str
    mart: str | None
    row_count: int | None
    size_bytes: int
    sha256: str


class ExportRead(ReadModel):
    id: int
    period_start: date
    period_end: date
    version: int
    folder: str
    generated_at: datetime
    generated_by: str
    git_commit: str | None
    dbt_version: str
    manifest_sha256: str
    files: list[ExportFileRead]


ExportPage = Page[ExportRead]
