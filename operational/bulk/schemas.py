"""Bulk update requests (one per record type) and the job and results they answer with.

A request names its records by ``ids`` or by a ``filter`` (the list endpoint's filters, the same
names and meaning), never both; it carries one update, applied to each record as that record's
single update would be (PATCH, transition, comment)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from operational.bulk.enums import JobStatus, Outcome, RecordType
from operational.changes.schemas import ChangeFilters, ChangeUpdate, TransitionRequest
from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.customfields.service import PREFIX as CUSTOM_FIELD_PREFIX
from operational.incidents.schemas import CommentCreate, IncidentFilters, IncidentUpdate

Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Version = Annotated[int, Field(ge=1, description="The version read (its ETag); stale: 412")]


class IncidentTarget(RequestBody):
    id: int | Reference = Field(description="The incident's id or number")
    version: Version | None = None


class ChangeTarget(RequestBody):
    id: int = Field(ge=1, description="The change's id")
    version: Version | None = None


class _CustomFieldFilters(BaseModel):
    """The lists' custom field filters, ``"cf.<name>": value or [values]`` (also ``_from`` and
    ``_to``), gathered into ``custom``: any other unknown name is still refused."""

    custom: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Filled from the "cf.<name>" keys, as the list takes them '
        "(docs/custom-fields.md)",
    )

    @model_validator(mode="before")
    @classmethod
    def _gather_custom_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        rest: dict[str, Any] = {}
        custom: dict[str, list[str]] = {}
        for key, value in data.items():
            if isinstance(key, str) and key.startswith(CUSTOM_FIELD_PREFIX):
                values = value if isinstance(value, list) else [value]
                custom[key] = [str(item) for item in values]
            else:
                rest[key] = value
        if custom:
            rest["custom"] = {**rest.get("custom", {}), **custom}
        return rest


class IncidentSelection(_CustomFieldFilters, IncidentFilters):
    """The filters of GET /incidents; an unknown name is refused, not ignored (it would widen
    the selection)."""

    model_config = ConfigDict(extra="forbid")


class ChangeSelection(_CustomFieldFilters, ChangeFilters):
    """The filters of GET /changes; an unknown name is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class IncidentBulkUpdate(IncidentUpdate):
    """What PATCH /incidents/{id} takes, except ``version``: versions go with each id."""

    @model_validator(mode="after")
    def _no_shared_version(self) -> "IncidentBulkUpdate":
        if self.version is not None:
            raise ValueError('give versions per record: "ids": [{"id": 1, "version": 3}]')
        return self


def _one_selection(ids: list | None, filter_: BaseModel | None) -> None:
    if (ids is None) == (filter_ is None):
        raise ValueError("give either ids or filter (not both)")
    if ids is not None and not ids:
        raise ValueError("ids names no record")


class BulkOptions(RequestBody):
    dry_run: bool = Field(
        False,
        description="Count (and list) the records the call would update, changing nothing",
    )
    background: bool = Field(
        False,
        description="Run as a job in the worker even when the records are few "
        "(more than ITSM_BULK_BACKGROUND_THRESHOLD always do)",
    )


class IncidentBulkRequest(BulkOptions):
    ids: list[int | Reference | IncidentTarget] | None = Field(
        None, description='Ids, numbers, or {"id": ..., "version": ...} to check versions'
    )
    filter: IncidentSelection | None = Field(None, description="Instead of ids: the list's filters")
    update: IncidentBulkUpdate = Field(
        default_factory=IncidentBulkUpdate,
        description="Fields, assignment and state, as PATCH /incidents/{id} takes them",
    )
    comment: CommentCreate | None = Field(
        None, description="A comment or work note added to each record the update changes"
    )

    @model_validator(mode="after")
    def _check(self) -> "IncidentBulkRequest":
        _one_selection(self.ids, self.filter)
        if not self.update.model_fields_set and self.comment is None:
            raise ValueError("nothing to do: give update fields or a comment")
        return self


class ChangeBulkRequest(BulkOptions):
    ids: list[int | ChangeTarget] | None = Field(
        None, description='Change ids, or {"id": ..., "version": ...} to check versions'
    )
    filter: ChangeSelection | None = Field(None, description="Instead of ids: the list's filters")
    update: ChangeUpdate = Field(
        default_factory=ChangeUpdate, description="Fields as PATCH /changes/{id} takes them"
    )
    transition: TransitionRequest | None = Field(
        None, description="A move along the workflow, as POST /changes/{id}/transition takes it"
    )

    @model_validator(mode="after")
    def _check(self) -> "ChangeBulkRequest":
        _one_selection(self.ids, self.filter)
        if not self.update.model_fields_set and self.transition is None:
            raise ValueError("nothing to do: give update fields or a transition")
        return self


class BulkPreview(BaseModel):
    """A dry run: what the call would select. Nothing was changed."""

    dry_run: bool = True
    record_type: RecordType
    matched: int = Field(description="Records selected (ids: those that exist and you may see)")
    max_records: int = Field(description="ITSM_BULK_MAX_RECORDS: the most one call may update")
    within_limit: bool
    background: bool = Field(description="Whether the call would run as a job in the worker")
    ids: list[int] = Field(description="The selected records' ids, oldest first (up to the limit)")
    not_found: list[str] = Field(
        default_factory=list, description="References given that name no record you may see"
    )


class BulkResultRead(ReadModel):
    position: int = Field(description="0-based, in the order the records were given or matched")
    reference: str = Field(description="The record as named (id or number)")
    record_id: int | None
    number: str | None
    outcome: Outcome | None = Field(description="null while the record waits its turn")
    reason: str | None = Field(description="Why it was skipped")
    problem: dict[str, Any] | None = Field(
        description="Why it failed: problem+json, as a single update would have answered"
    )
    version: int | None = Field(description="The record's version (ETag) afterwards")


BulkResultPage = Page[BulkResultRead]


class BulkJobRead(ReadModel):
    id: int
    record_type: RecordType
    status: JobStatus
    background: bool
    actor_id: int
    request: dict[str, Any] = Field(description="The update as sent")
    total: int = Field(description="Records named or matched")
    processed: int
    updated: int
    skipped: int
    failed: int
    error: str | None = Field(description="Why the job itself stopped (status failed)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str = ""
    results: BulkResultPage | None = Field(
        None, description="The records processed so far, a page at a time (page, size, outcome)"
    )

    @model_validator(mode="after")
    def _url(self) -> "BulkJobRead":
        self.url = f"/api/v1/bulk-jobs/{self.id}"
        return self


BulkJobPage = Page[BulkJobRead]
