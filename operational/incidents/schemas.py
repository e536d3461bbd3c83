from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)

from operational.core.pagination import KeysetPage
from operational.core.schemas import ReadModel, RequestBody
from operational.customfields.schemas import (
    CustomFieldValues,
    custom_fields_input,
    custom_fields_output,
)
from operational.incidents import workflow
from operational.incidents.enums import (
    Channel,
    IncidentState,
    NativeHoldReason,
    ResolutionCode,
)
from operational.sla.enums import TimerState, TimerTarget
from operational.sla.schemas import SlaTimerRead
from operational.tickets.hints import KnownErrorHint, Suggestion

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Label120 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Label200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Ref64 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000)]
Level = Annotated[int, Field(ge=1, le=3, description="1 high, 2 medium, 3 low")]
Priority = Annotated[int, Field(ge=1, le=5, description="1 (P1, critical) .. 5 (P5)")]


class IncidentCreate(RequestBody):
    title: Title
    description: str | None = None
    requester_id: int | None = Field(None, description="Defaults to the caller of the API")
    channel: Channel | None = Field(None, description="Defaults to portal")
    category: Label120 | None = None
    subcategory: Label120 | None = None
    service: Label200 | None = None
    configuration_item: Label200 | None = None
    location: Label200 | None = None
    impact: Level = Field(3, description="From a requester (no incident:write): a suggestion")
    urgency: Level = Field(3, description="From a requester (no incident:write): a suggestion")
    priority: Priority | None = Field(
        None, description="Override of the matrix priority (incident:override_priority)"
    )
    priority_reason: Reason | None = None
    assignment_group_id: int | None = None
    assignee_id: int | None = None
    problem_ref: Ref64 | None = None
    change_ref: Ref64 | None = None
    custom_fields: CustomFieldValues | None = custom_fields_input()

    @model_validator(mode="after")
    def _override_needs_reason(self) -> "IncidentCreate":
        if self.priority is not None and not self.priority_reason:
            raise ValueError("priority_reason is required when priority is given")
        return self


# Fields that PATCH may set but never to null.
NOT_NULLABLE = ("title", "impact", "urgency", "channel", "state", "requester_id")


class IncidentUpdate(RequestBody):
    """Only the fields sent are changed. ``version`` may replace the If-Match header."""

    version: int | None = Field(None, description="The version read (instead of If-Match)")
    title: Title | None = None
    description: str | None = None
    requester_id: int | None = None
    channel: Channel | None = None
    category: Label120 | None = None
    subcategory: Label120 | None = None
    service: Label200 | None = None
    configuration_item: Label200 | None = None
    location: Label200 | None = None
    impact: Level | None = None
    urgency: Level | None = None
    priority: Priority | None = None
    priority_reason: Reason | None = None
    assignment_group_id: int | None = None
    assignee_id: int | None = None
    state: IncidentState | None = None
    hold_reason: NativeHoldReason | None = None
    resolution_code: ResolutionCode | None = None
    resolution_notes: str | None = None
    problem_ref: Ref64 | None = None
    change_ref: Ref64 | None = None
    custom_fields: CustomFieldValues | None = custom_fields_input()
    reason: Reason | None = Field(
        None, description="Why: recorded with the assignment or state change"
    )

    @model_validator(mode="after")
    def _check(self) -> "IncidentUpdate":
        nulls = [
            name for name in NOT_NULLABLE if name in self.model_fields_set and not _set(self, name)
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        if "priority" in self.model_fields_set:
            if self.priority is None:
                raise ValueError("priority cannot be null; change impact or urgency instead")
            if not self.priority_reason:
                raise ValueError("priority_reason is required when priority is given")
        return self


def _set(model: BaseModel, name: str) -> bool:
    return getattr(model, name) is not None


class UserRef(ReadModel):
    id: int
    display_name: str


class TeamRef(ReadModel):
    id: int
    name: str


class CsatInvitationRead(BaseModel):
    """The survey's one-time link: present only in the response of a request by which the
    incident's own requester resolved it (the token is theirs alone)."""

    token: str
    url: str
    expires_at: datetime


class IncidentRead(ReadModel):
    id: int
    number: str
    version: int
    title: str
    description: str | None
    state: IncidentState
    hold_reason: str | None
    requester: UserRef | None
    requester_id: int | None
    opened_by_id: int | None
    channel: Channel
    category: str | None
    subcategory: str | None
    service: str | None
    configuration_item: str | None
    location: str | None
    impact: int
    urgency: int
    suggested_impact: int | None = Field(
        description="What the requester proposed; the priority follows impact and urgency"
    )
    suggested_urgency: int | None
    priority: int
    priority_overridden: bool
    priority_override_reason: str | None
    assignment_group: TeamRef | None
    assignment_group_id: int | None
    assignee: UserRef | None
    assignee_id: int | None
    resolution_code: str | None
    resolution_notes: str | None
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    reopen_count: int
    reassignment_count: int
    first_assignee_id: int | None
    first_assignment_group_id: int | None
    first_assigned_at: datetime | None
    first_resolved_at: datetime | None
    resolved_by_id: int | None
    escalated: bool
    requester_replied_before_resolution: bool
    problem_ref: str | None
    change_ref: str | None
    source_system: str
    external_id: str | None
    custom_fields: dict[str, Any] = custom_fields_output()
    sla_timers: list[SlaTimerRead] = Field(default_factory=list)
    allowed_states: list[str] = Field(
        default_factory=list,
        description="The states an update may move it to now (the workflow's table)",
    )
    csat_invitation: CsatInvitationRead | None = None
    problem_id: int | None = None
    known_error: KnownErrorHint | None = Field(
        None, description="One incident's GET, for agents: the known error behind it"
    )
    suggestions: list[Suggestion] | None = Field(
        None,
        description="On create and when the title changes: the best matching knowledge "
        "articles and known errors (docs/knowledge.md)",
    )

    @model_validator(mode="after")
    def _workflow_moves(self) -> "IncidentRead":
        # Always the workflow's, whatever was given: a field (not computed) so that it has its
        # place before the viewer's fields, where the SQL-written read puts it too (reads.py).
        self.allowed_states = workflow.allowed_from(self.state)
        return self


IncidentPage = KeysetPage[IncidentRead]

# A list item with fields= (the list's lean shape): IncidentRead's fields, each there only when
# named, id always. Documented beside IncidentRead so that every list response fits its schema.
IncidentFields = create_model(
    "IncidentFields",
    __doc__="An incident in a list asked for with `fields=`: only the fields named (`id` "
    "always), each as in IncidentRead; `cf.<name>` gives `custom_fields` with that field only.",
    id=(int, ...),
    **{
        name: (field.annotation, Field(None, description=field.description))
        for name, field in IncidentRead.model_fields.items()
        if name != "id"
    },
)

LIST_FIELDS_DESCRIPTION = (
    "Only these fields in each item, comma-separated (`fields=number,title,state,priority`): "
    "`id` always, the rest in the response's order; `cf.<name>` for one custom field (inside "
    "`custom_fields`). Fewer fields cost less: people, team and SLA timers are read only when "
    "named. An unknown name is a 400 that lists the allowed ones. Without it, each item is the "
    f"whole IncidentRead. Allowed: {', '.join(IncidentRead.model_fields)}, cf.<name>."
)


class IncidentListPage(KeysetPage[IncidentRead | IncidentFields]):  # type: ignore[valid-type]
    """A page of incidents: each item the whole IncidentRead, or with `fields=` only the fields
    named (IncidentFields)."""


class IncidentBrief(ReadModel):  # an incident in another record's response (a CI's)
    id: int
    number: str
    title: str
    state: str
    priority: int
    opened_at: datetime


class IncidentFilters(BaseModel):
    """List filters; every one given must hold. Times without a zone are UTC."""

    state: list[IncidentState] = Field(default_factory=list)
    priority: list[Priority] = Field(default_factory=list)
    assignment_group_id: int | None = None
    assignee_id: int | None = None
    requester_id: int | None = None
    service: str | None = None
    category: str | None = None
    created_from: datetime | None = Field(None, description="opened_at at or after")
    created_to: datetime | None = Field(None, description="opened_at before")
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    sla_state: list[TimerState] = Field(
        default_factory=list, description="Incidents with an SLA timer in one of these states"
    )
    q: str | None = Field(
        None, description="Full-text search over number, title, description and comments"
    )

    @field_validator("created_from", "created_to", "updated_from", "updated_to")
    @classmethod
    def _utc_when_naive(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class CommentCreate(RequestBody):
    body: Body
    is_public: bool = Field(True, description="false: a work note, seen by agents only")


class CommentRead(ReadModel):
    id: int
    incident_id: int
    author: UserRef | None
    is_public: bool
    body: str
    created_at: datetime


class ReopenRequest(RequestBody):
    reason: Reason


class CsatAnswer(RequestBody):
    rating: int = Field(ge=1, le=5, description="1..5 stars")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None


class CsatSurveyRead(BaseModel):
    incident_number: str
    incident_title: str
    opened_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    rating: int | None
    comment: str | None
    is_open: bool
    answered_via: str | None = Field(
        description="requester (signed in), token (the one-time link: whoever held it) or import"
    )
    answered_by_id: int | None = Field(description="Who answered, when signed in")
    answer_url: str | None = Field(
        description="For the requester while the survey is open: POST the answer here, signed in"
    )


class PriorityMatrixRead(BaseModel):
    """``matrix[impact - 1][urgency - 1]`` is the priority; 1 is high for all three."""

    matrix: list[list[int]]
    impact_labels: dict[int, str] = {1: "high", 2: "medium", 3: "low"}
    urgency_labels: dict[int, str] = {1: "high", 2: "medium", 3: "low"}


# ------------------------------------------------------------------------ as of an instant


class AsOfTimerRead(BaseModel):
    """One SLA timer as it stood at the instant asked for (replayed, not stored)."""

    target: TimerTarget
    policy_id: int
    policy_name: str = Field(description="The policy's name in the version in force then")
    target_minutes: int = Field(description="Target in business minutes")
    started_at: datetime
    due_at: datetime | None = Field(description="Null while the clock was paused")
    elapsed_minutes: float = Field(description="Business minutes counted up to the instant")
    paused_minutes: float = Field(description="Business minutes the clock stood still")
    remaining_minutes: float | None = Field(
        description="Business minutes left before the target (0 once breached; null: error)"
    )
    breached: bool = Field(description="More business minutes elapsed than the target")
    state: TimerState
    completed_at: datetime | None
    breached_at: datetime | None
    warnings_fired: list[int]
    error: str | None = Field(description="State error: why the timer could not be computed")

    @classmethod
    def of(cls, timer: Any) -> "AsOfTimerRead":
        outcome = timer.outcome
        return cls(
            target=outcome.target,
            policy_id=outcome.policy.id,
            policy_name=outcome.policy.name,
            target_minutes=outcome.target_minutes,
            started_at=outcome.started_at,
            due_at=outcome.due_at,
            elapsed_minutes=outcome.elapsed_minutes,
            paused_minutes=outcome.paused_minutes,
            remaining_minutes=timer.remaining_minutes,
            breached=timer.breached,
            state=outcome.state,
            completed_at=outcome.completed_at,
            breached_at=outcome.breached_at,
            warnings_fired=outcome.warnings_fired,
            error=outcome.error,
        )


class IncidentAsOfRead(BaseModel):
    """An incident as it was at ``at``: a replay of its event log up to then, with the SLA
    policies and calendars in force then (docs/incidents.md, "As of an instant")."""

    id: int
    number: str
    at: datetime = Field(description="The instant replayed to")
    state: str
    hold_reason: str | None
    priority: int | None
    assignment_group_id: int | None = Field(
        description="Null when unassigned, or when the (imported) log names the team only"
    )
    assignment_group: str | None = Field(description="The team's name as the log has it")
    assignee_id: int | None
    assignee: str | None = Field(description="The assignee's name as the log has it")
    sla_timers: list[AsOfTimerRead]

    @classmethod
    def of(cls, past: Any) -> "IncidentAsOfRead":
        return cls(
            id=past.incident.id,
            number=past.incident.number,
            at=past.at,
            state=past.state,
            hold_reason=past.hold_reason,
            priority=past.priority,
            assignment_group_id=past.team.id,
            assignment_group=past.team.label,
            assignee_id=past.assignee.id,
            assignee=past.assignee.label,
            sla_timers=[AsOfTimerRead.of(timer) for timer in past.timers],
        )
