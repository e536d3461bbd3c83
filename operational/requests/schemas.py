"""Request and response shapes of the catalog, requests, approvals and fulfilment tasks."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AliasPath,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.customfields.schemas import (
    CustomFieldValues,
    custom_fields_input,
    custom_fields_output,
)
from operational.incidents.schemas import CsatAnswer, CsatInvitationRead, TeamRef, UserRef
from operational.requests.enums import (
    ApprovalRule,
    ApprovalState,
    ApproverKind,
    ClockState,
    ConditionOperator,
    ItemState,
    MessageKind,
    PlanMode,
    RequestState,
    StageState,
    TaskState,
)
from operational.tickets.hints import Suggestion

__all__ = ["CsatAnswer", "CsatInvitationRead"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20000)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
# Where a condition reads its value: the line's cost or quantity, or an answer of the form.
CONDITION_FIELD = r"^(cost|quantity|answers\.[A-Za-z0-9_\-]{1,100})$"
# Business minutes: up to a year of round-the-clock time.
Minutes = Annotated[int, Field(gt=0, le=525600)]


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# ------------------------------------------------------------------------ policies and plans


class Condition(RequestBody):
    """The stage runs only when ``<field> <op> <value>`` holds, e.g. cost gt 1000."""

    field: str = Field(pattern=CONDITION_FIELD, examples=["cost", "answers.storage_gb"])
    op: ConditionOperator
    value: Any


class StagePolicy(RequestBody):
    name: Name
    approvers: ApproverKind
    team_id: int | None = Field(None, description="approvers=team: its active members")
    user_ids: list[int] = Field(default_factory=list, description="approvers=users", max_length=50)
    rule: ApprovalRule = ApprovalRule.one
    quorum: int | None = Field(None, ge=1, le=50, description="rule=quorum: approvals needed")
    condition: Condition | None = None
    reminder_minutes: Minutes | None = Field(
        None,
        description="Remind a pending approver after this many business minutes (default: the"
        " policy's reminder_minutes, else ITSM_APPROVAL_REMINDER_MINUTES)",
    )
    escalation_minutes: Minutes | None = Field(
        None,
        description="When the escalation rules for request approvals fire for this stage, in"
        " business minutes from the request (default: each rule's delay after the reminder)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "StagePolicy":
        if self.approvers == ApproverKind.team and self.team_id is None:
            raise ValueError("approvers=team needs team_id")
        if self.approvers == ApproverKind.users and not self.user_ids:
            raise ValueError("approvers=users needs user_ids")
        if (self.rule == ApprovalRule.quorum) != (self.quorum is not None):
            raise ValueError("quorum is given exactly when rule=quorum")
        if (
            self.reminder_minutes is not None
            and self.escalation_minutes is not None
            and self.escalation_minutes <= self.reminder_minutes
        ):
            raise ValueError("escalation_minutes must come after reminder_minutes")
        return self


class ApprovalPolicy(RequestBody):
    """Stages run one after another; the approvers inside a stage in parallel. No stages: the
    item needs no approval."""

    stages: list[StagePolicy] = Field(default_factory=list, max_length=10)
    reminder_minutes: Minutes | None = Field(
        None,
        description="Every stage's reminder period unless the stage names its own (default:"
        " ITSM_APPROVAL_REMINDER_MINUTES)",
    )


class PlanTask(RequestBody):
    name: Name
    team_id: int | None = Field(None, description="Assignment group; default the item's team")
    description: Text | None = None


class FulfilmentPlan(RequestBody):
    """The tasks created when approvals end. No tasks: one task for the item's team."""

    mode: PlanMode = PlanMode.sequential
    tasks: list[PlanTask] = Field(default_factory=list, max_length=20)


# --------------------------------------------------------------------------------- catalog


class CategoryCreate(RequestBody):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    description: Text | None = None
    position: int = Field(100, ge=0, le=10000)


class CategoryUpdate(RequestBody):
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
        | None
    ) = None
    description: Text | None = None
    position: int | None = Field(None, ge=0, le=10000)
    is_active: bool | None = None


class CategoryRead(ReadModel):
    id: int
    name: str
    description: str | None
    position: int
    is_active: bool


CategoryPage = Page[CategoryRead]


class _ItemFields(RequestBody):
    description: Text | None = None
    price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")
    fulfilment_team_id: int | None = None
    delivery_minutes: Minutes = Field(description="Delivery target in business minutes")
    calendar_id: int | None = Field(None, description="SLA calendar; null: 24x7 UTC")
    orderable_roles: list[str] = Field(default_factory=list, max_length=10)
    orderable_team_ids: list[int] = Field(default_factory=list, max_length=50)
    form_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema (2020-12) of the order form's answers",
    )
    approval_policy: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    fulfilment_plan: FulfilmentPlan = Field(default_factory=FulfilmentPlan)


class CatalogItemCreate(_ItemFields):
    category_id: int
    name: Name


class CatalogItemUpdate(RequestBody):
    """Fields sent replace the current ones and make a new version (If-Match required)."""

    category_id: int | None = None
    name: Name | None = None
    description: Text | None = None
    price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    fulfilment_team_id: int | None = None
    delivery_minutes: Minutes | None = None
    calendar_id: int | None = None
    orderable_roles: list[str] | None = Field(None, max_length=10)
    orderable_team_ids: list[int] | None = Field(None, max_length=50)
    form_schema: dict[str, Any] | None = None
    approval_policy: ApprovalPolicy | None = None
    fulfilment_plan: FulfilmentPlan | None = None
    is_active: bool | None = None


class CatalogItemRead(ReadModel):
    id: int
    version: int
    category_id: int
    category_name: str = Field(validation_alias=AliasPath("category", "name"))
    name: str
    description: str | None
    price: Decimal | None
    currency: str
    fulfilment_team_id: int | None
    delivery_minutes: int
    calendar_id: int | None
    orderable_roles: list[str]
    orderable_team_ids: list[int]
    form_schema: dict[str, Any]
    approval_policy: dict[str, Any]
    fulfilment_plan: dict[str, Any]
    is_active: bool
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime


CatalogItemPage = Page[CatalogItemRead]


class CatalogItemVersionRead(ReadModel):
    item_id: int
    version: int
    snapshot: dict[str, Any]
    created_by_id: int | None
    created_at: datetime


CatalogItemVersionPage = Page[CatalogItemVersionRead]


class CatalogItemFilters(BaseModel):
    category_id: int | None = None
    active: bool | None = Field(None, description="true: orderable now; false: retired")
    orderable: bool = Field(False, description="true: only what the caller may order")
    q: str | None = Field(None, max_length=200, description="Matches name and description")


# -------------------------------------------------------------------------------- requests


class OrderLine(RequestBody):
    catalog_item_id: int
    quantity: int = Field(1, ge=1, le=1000)
    answers: dict[str, Any] = Field(default_factory=dict)


class RequestCreate(RequestBody):
    items: list[OrderLine] = Field(min_length=1, max_length=50)
    justification: Text | None = None
    requested_for_id: int | None = Field(
        None, description="Order on someone else's behalf (needs request:fulfil)"
    )
    custom_fields: CustomFieldValues | None = custom_fields_input()


class RequestUpdate(RequestBody):
    """The request's own fields that change after ordering: its custom fields (the lines'
    answers are the catalog forms', fixed by the order)."""

    custom_fields: CustomFieldValues | None = custom_fields_input()


class DeliveryClockRead(BaseModel):
    """The delivery SLA of a request item, as last recomputed."""

    state: ClockState
    target_minutes: int = Field(description="Target in business minutes")
    calendar_id: int | None
    due_at: datetime | None = Field(description="Null while the clock is paused")
    elapsed_minutes: float
    paused_minutes: float = Field(description="Business minutes spent waiting for the requester")
    breached_at: datetime | None
    computed_at: datetime | None


class ApprovalBrief(ReadModel):
    id: int
    approver: UserRef
    state: ApprovalState
    decided_at: datetime | None
    decided_by: UserRef | None
    comment: str | None


class StageRead(ReadModel):
    id: int
    position: int
    name: str
    rule: ApprovalRule
    quorum: int | None
    state: StageState
    note: str | None
    reminder_minutes: int | None = Field(
        None, description="Business minutes its approvers wait before they are reminded"
    )
    escalation_minutes: int | None = Field(
        None, description="When the approval escalation rules fire, from the request (if set)"
    )
    started_at: datetime | None
    ended_at: datetime | None
    approvals: list[ApprovalBrief]


class RequestItemRead(ReadModel):
    id: int
    number: str
    version: int
    request_id: int
    request_number: str = Field(validation_alias=AliasPath("request", "number"))
    requester_id: int = Field(validation_alias=AliasPath("request", "requester_id"))
    line: int
    catalog_item_id: int
    item_name: str
    item_version: int
    quantity: int
    answers: dict[str, Any]
    cost: Decimal | None
    state: ItemState
    fulfilment_team: TeamRef | None
    opened_at: datetime
    approved_at: datetime | None
    delivered_at: datetime | None
    closed_at: datetime | None
    rejection_reason: str | None
    approval_wait_minutes: float | None
    approval_wait_business_minutes: float | None
    fulfilment_minutes: float | None
    fulfilment_business_minutes: float | None
    sla: DeliveryClockRead | None = None
    approval_stages: list[StageRead] = Field(default_factory=list)
    # Present only in the response of the move that closed the request: shown once.
    csat_invitation: CsatInvitationRead | None = None


RequestItemPage = Page[RequestItemRead]


class RequestItemUpdate(RequestBody):
    """Fulfilment moves: wait for the requester, resume, or cancel (with a reason)."""

    state: ItemState
    reason: Comment | None = None
    version: int | None = None


class RequesterReply(RequestBody):
    """The requester's answer to an item waiting for them: the clock runs again."""

    comment: Comment = Field(min_length=1)


class RequestItemMessage(ReadModel):
    """One message between the fulfilment team and the requester about an item: what its
    requester may read (the item's timeline holds everything, for agents)."""

    occurred_at: datetime
    kind: MessageKind
    author_id: int | None
    author_label: str | None
    text: str


class RequestRead(ReadModel):
    id: int
    number: str
    version: int
    requester: UserRef
    opened_by_id: int | None
    justification: str | None
    state: RequestState
    opened_at: datetime
    closed_at: datetime | None
    custom_fields: dict[str, Any] = custom_fields_output()
    items: list[RequestItemRead] = Field(default_factory=list)
    csat_invitation: CsatInvitationRead | None = None
    suggestions: list[Suggestion] | None = Field(
        None,
        description="On create: the knowledge articles and known errors that best match the "
        "ordered items and the justification (docs/knowledge.md)",
    )


RequestPage = Page[RequestRead]


class RequestFilters(BaseModel):
    state: list[RequestState] = Field(default_factory=list)
    requester_id: int | None = None
    catalog_item_id: int | None = None
    opened_from: datetime | None = Field(None, description="opened_at at or after")
    opened_to: datetime | None = Field(None, description="opened_at before")
    q: str | None = Field(None, max_length=200, description="Matches numbers and item names")

    _utc = field_validator("opened_from", "opened_to")(classmethod(lambda cls, v: _utc(v)))


class RequestItemFilters(BaseModel):
    state: list[ItemState] = Field(default_factory=list)
    catalog_item_id: int | None = None
    request_id: int | None = None
    fulfilment_team_id: int | None = None
    sla_state: list[ClockState] = Field(default_factory=list)
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    q: str | None = Field(None, max_length=200, description="Matches numbers and item names")

    _utc = field_validator("opened_from", "opened_to")(classmethod(lambda cls, v: _utc(v)))


class CancelBody(RequestBody):
    reason: Comment = Field(min_length=1)
    version: int | None = None


# --------------------------------------------------------------------------------- approvals


class ApprovalRead(ReadModel):
    id: int
    state: ApprovalState
    approver: UserRef
    requested_at: datetime
    decided_at: datetime | None
    decided_by: UserRef | None
    comment: str | None
    reminded_at: datetime | None
    escalated_at: datetime | None
    escalated_to: UserRef | None = Field(
        None, description="Who may decide in the approver's place since escalated_at"
    )
    request_item_id: int
    request_item_number: str = Field(validation_alias=AliasPath("item", "number"))
    item_name: str = Field(validation_alias=AliasPath("item", "item_name"))
    item_version: int = Field(validation_alias=AliasPath("item", "item_version"))
    cost: Decimal | None = Field(validation_alias=AliasPath("item", "cost"))
    request_number: str = Field(validation_alias=AliasPath("item", "request", "number"))
    requester_id: int = Field(validation_alias=AliasPath("item", "request", "requester_id"))
    stage_position: int = Field(validation_alias=AliasPath("stage", "position"))
    stage_name: str = Field(validation_alias=AliasPath("stage", "name"))
    stage_rule: ApprovalRule = Field(validation_alias=AliasPath("stage", "rule"))
    # Present only in the response of the decision that closed the request: shown once.
    csat_invitation: CsatInvitationRead | None = None


ApprovalPage = Page[ApprovalRead]


class ApprovalFilters(BaseModel):
    mine: str | None = Field(
        None,
        pattern="^(pending|all)$",
        description="pending: what waits for me (or those I stand in for); all: every approval"
        " that was mine",
    )
    state: list[ApprovalState] = Field(default_factory=list)
    approver_id: int | None = None
    request_item_id: int | None = None
    q: str | None = Field(None, max_length=200, description="Matches numbers and item names")


class Decision(RequestBody):
    comment: Comment | None = None


class RejectDecision(RequestBody):
    comment: Comment = Field(min_length=1, description="The reason, shown to the requester")


class DelegationCreate(RequestBody):
    delegate_id: int
    starts_at: datetime
    ends_at: datetime
    reason: Comment | None = None
    delegator_id: int | None = Field(
        None, description="Whose approvals; default yourself (others: request:read_all)"
    )

    _utc = field_validator("starts_at", "ends_at")(classmethod(lambda cls, v: _utc(v)))

    @model_validator(mode="after")
    def _ordered(self) -> "DelegationCreate":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must come after starts_at")
        return self


class DelegationRead(ReadModel):
    id: int
    delegator: UserRef
    delegate: UserRef
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    revoked_at: datetime | None
    created_at: datetime


DelegationPage = Page[DelegationRead]


# ------------------------------------------------------------------------------------ tasks


class TaskRead(ReadModel):
    id: int
    number: str
    version: int
    request_item_id: int
    request_item_number: str = Field(validation_alias=AliasPath("item", "number"))
    request_number: str = Field(validation_alias=AliasPath("item", "request", "number"))
    position: int
    name: str
    description: str | None
    assignment_group: TeamRef | None
    assignee: UserRef | None
    state: TaskState
    opened_at: datetime | None
    closed_at: datetime | None
    close_notes: str | None
    created_at: datetime
    updated_at: datetime
    # Present only in the response that closed the request (its last task): shown once.
    csat_invitation: CsatInvitationRead | None = None


TaskPage = Page[TaskRead]


class TaskUpdate(RequestBody):
    state: TaskState | None = None
    assignment_group_id: int | None = None
    assignee_id: int | None = None
    close_notes: Text | None = None
    version: int | None = None


class TaskFilters(BaseModel):
    state: list[TaskState] = Field(default_factory=list)
    assignment_group_id: int | None = None
    assignee_id: int | None = None
    request_item_id: int | None = None
    q: str | None = Field(None, max_length=200, description="Matches numbers and task names")


# ------------------------------------------------------------------------------------- CSAT


class RequestSurveyRead(BaseModel):
    request_number: str
    opened_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    rating: int | None
    comment: str | None
    is_open: bool
