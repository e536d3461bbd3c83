from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from operational.core.pagination import Page


class ExportFileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    format: str
    mart: str | None
    row_count: int | None
    size_bytes: int
    sha256: str


class ExportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
