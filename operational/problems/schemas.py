from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from operational.cmdb.schemas import CIBrief
from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.customfields.schemas import (
    CustomFieldValues,
    custom_fields_input,
    custom_fields_output,
)
from operational.incidents.enums import ResolutionCode
from operational.incidents.schemas import IncidentBrief, TeamRef, UserRef
from operational.problems.enums import CandidateDimension, ProblemState, RootCauseCategory

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Label120 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Label200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50_000)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Level = Annotated[int, Field(ge=1, le=3, description="1 high, 2 medium, 3 low")]

# Fields whose change is one field_changed event each (RCA fields included).
PLAIN_FIELDS = (
    "title",
    "description",
    "service",
    "category",
    "symptom",
    "root_cause",
    "root_cause_category",
    "five_whys",
    "contributing_factors",
    "fix_notes",
    "workaround",
)
NOT_NULLABLE = ("title", "impact", "urgency", "five_whys", "contributing_factors", "ci_ids")


class ProblemCreate(RequestBody):
    title: Title
    description: Text | None = None
    service: Label200 | None = None
    category: Label120 | None = None
    ci_ids: list[int] = Field(default_factory=list, max_length=100, description="Affected CIs")
    impact: Level = 3
    urgency: Level = 3
    assignment_group_id: int | None = None
    owner_id: int | None = None
    symptom: Text | None = None
    incident_ids: list[int] = Field(
        default_factory=list,
        max_length=500,
        description="Incidents to link at once (a candidate group's, for example)",
    )
    custom_fields: CustomFieldValues | None = custom_fields_input()


class ProblemUpdate(RequestBody):
    """Only the fields sent change; each changed field is one event (docs/problems.md)."""

    title: Title | None = None
    description: Text | None = None
    service: Label200 | None = None
    category: Label120 | None = None
    ci_ids: list[int] | None = Field(None, max_length=100)
    impact: Level | None = None
    urgency: Level | None = None
    assignment_group_id: int | None = None
    owner_id: int | None = None
    symptom: Text | None = None
    root_cause: Text | None = None
    root_cause_category: RootCauseCategory | None = None
    five_whys: list[Line] | None = Field(
        None, max_length=10, description="The chain of whys, the first why first"
    )
    contributing_factors: list[Line] | None = Field(None, max_length=30)
    root_cause_ci_id: int | None = Field(None, description="The CI at fault")
    caused_by_change_id: int | None = Field(None, description="The change that caused it")
    fix_notes: Text | None = None
    workaround: Text | None = None
    custom_fields: CustomFieldValues | None = custom_fields_input()

    @model_validator(mode="after")
    def _not_null(self) -> "ProblemUpdate":
        nulls = [
            name
            for name in NOT_NULLABLE
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class ProblemTransition(RequestBody):
    to: ProblemState
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = (
        Field(None, description="Kept in the event log; needed to close an unresolved problem")
    )


class KnownErrorPublish(RequestBody):
    workaround: Text | None = Field(
        None, description="The workaround agents apply; defaults to the one recorded"
    )


class IncidentLink(RequestBody):
    incident_id: int
    wait: bool = Field(
        False,
        description="Put the incident on hold, awaiting this problem (hold reason "
        "awaiting_problem) until the problem is resolved",
    )


class BulkResolve(RequestBody):
    incident_ids: list[int] | None = Field(
        None,
        max_length=1000,
        description="Default: every linked incident that waits for the problem",
    )
    resolution_code: ResolutionCode = ResolutionCode.solved_permanently
    resolution_notes: Text | None = Field(
        None, description="Default: the problem's fix notes, naming the problem"
    )


class ProblemSummary(ReadModel):
    id: int
    number: str
    version: int
    title: str
    state: ProblemState
    service: str | None
    category: str | None
    priority: int
    impact: int
    urgency: int
    assignment_group_id: int | None
    owner_id: int | None
    known_error: bool
    root_cause_category: str | None
    opened_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    source_system: str
    external_id: str | None
    custom_fields: dict[str, Any] = custom_fields_output()


ProblemPage = Page[ProblemSummary]


class ProblemRead(ProblemSummary):
    description: str | None
    owner: UserRef | None
    assignment_group: TeamRef | None
    opened_by_id: int | None
    cis: list[CIBrief]
    symptom: str | None
    root_cause: str | None
    five_whys: list[str]
    contributing_factors: list[str]
    root_cause_ci: CIBrief | None
    caused_by_change_id: int | None
    fix_notes: str | None
    workaround: str | None
    known_error_at: datetime | None
    close_reason: str | None
    root_cause_at: datetime | None
    created_at: datetime
    linked_incidents: int = 0
    open_linked_incidents: int = 0
    allowed_transitions: list[str] = Field(default_factory=list)


class ProblemTransitionRead(ProblemRead):
    notified_incident_ids: list[int] = Field(
        default_factory=list,
        description="Incidents waiting for the problem whose people were notified of the fix",
    )


class KnownErrorRead(ReadModel):
    problem_id: int = Field(validation_alias="id")
    number: str
    title: str
    state: str
    symptom: str | None
    root_cause: str | None
    workaround: str
    known_error_at: datetime


class LinkedIncidentRead(IncidentBrief):
    hold_reason: str | None
    waiting: bool = False


LinkedIncidentPage = Page[LinkedIncidentRead]


class SkippedIncident(BaseModel):
    incident_id: int
    reason: str


class BulkResolveRead(BaseModel):
    resolved: list[IncidentBrief]
    skipped: list[SkippedIncident]


class CandidateProposal(BaseModel):
    """The body of POST /problems that opens a problem from the group."""

    title: str
    service: str | None = None
    category: str | None = None
    incident_ids: list[int]


class CandidateGroup(BaseModel):
    dimension: CandidateDimension
    key: str = Field(description="The CI, service or category the incidents share")
    count: int
    first_opened_at: datetime
    last_opened_at: datetime
    incidents: list[IncidentBrief]
    proposal: CandidateProposal


class ProblemFilters(BaseModel):
    state: list[ProblemState] = Field(default_factory=list)
    priority: list[Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=list)
    service: str | None = None
    category: str | None = None
    root_cause_category: RootCauseCategory | None = None
    assignment_group_id: int | None = None
    owner_id: int | None = None
    ci_id: int | None = Field(None, description="Problems affecting this CI")
    known_error: bool | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    q: str | None = Field(
        None,
        description="Full-text search over number, title, symptom, root cause, workaround "
        "and description",
    )

    @field_validator("opened_from", "opened_to")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
