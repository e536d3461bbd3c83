"""Rules as JSON: conditions (a small tree of all / any / not over field tests, changes and
time in a state) and actions (a list, run in order). docs/automation.md has examples."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from operational.automation.enums import AssignStrategy, Operator, RecordType, TriggerKind
from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.incidents.schemas import TeamRef

FieldName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=120,
        description="A field of the record (priority, category, state, ...) or cf.<name>",
    ),
]
Template = Annotated[
    str,
    Field(
        min_length=1,
        max_length=10_000,
        description="Jinja2 (sandboxed): {{ number }}, {{ title }}, {{ priority }}, "
        "{{ cf.site }}, {{ rule_name }}, ... (docs/automation.md)",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldCondition(_Strict):
    """``{"field": "category", "op": "in", "value": ["Network", "VPN"]}``"""

    field: FieldName
    op: Operator = Operator.eq
    value: Any = None


class ChangedCondition(_Strict):
    """``{"changed": "priority", "to": 1}``: the field changed in this very update (optionally
    from and to these values). Never true for scheduled runs."""

    changed: FieldName
    from_: Any = Field(None, alias="from")
    to: Any = None


class StateForCondition(_Strict):
    """``{"in_state": "on_hold", "for_business_days": 5}``: the record has been in the state at
    least this long, counted on an SLA business calendar (``calendar_id``; none: around the
    clock, every day a business day). ``hold_reason`` narrows an on_hold state."""

    in_state: str = Field(min_length=1, max_length=32)
    hold_reason: str | None = None
    for_business_days: float | None = Field(None, gt=0, le=3650)
    for_business_hours: float | None = Field(None, gt=0, le=87600)
    calendar_id: int | None = None

    @model_validator(mode="after")
    def _one_duration(self) -> "StateForCondition":
        if (self.for_business_days is None) == (self.for_business_hours is None):
            raise ValueError("give exactly one of for_business_days and for_business_hours")
        return self


class AllOf(_Strict):
    all: list["Condition"] = Field(min_length=1, max_length=50)


class AnyOf(_Strict):
    any: list["Condition"] = Field(min_length=1, max_length=50)


class NotOf(_Strict):
    not_: "Condition" = Field(alias="not")


Condition = AllOf | AnyOf | NotOf | ChangedCondition | StateForCondition | FieldCondition
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class SetFieldsAction(_Strict):
    """Set fields through the record's normal update (its workflow and validation), custom
    fields as ``cf.<name>``: ``{"type": "set_fields", "fields": {"cf.site": "AMS"}}``"""

    type: Literal["set_fields"]
    fields: dict[FieldName, Any] = Field(min_length=1)


class AssignAction(_Strict):
    """To a person, a team, or a team with a strategy picking the member (incidents, changes:
    implementer, problems: owner; docs/automation.md, "Record types")."""

    type: Literal["assign"]
    team_id: int | None = None
    assignee_id: int | None = None
    strategy: AssignStrategy = AssignStrategy.team

    @model_validator(mode="after")
    def _someone(self) -> "AssignAction":
        if self.team_id is None and self.assignee_id is None:
            raise ValueError("name a team_id, an assignee_id or both")
        return self


class CommentAction(_Strict):
    """A public comment (``public``: true) or a work note, from a template (incidents only)."""

    type: Literal["comment"]
    template: Template
    public: bool = False


class NotifyAction(_Strict):
    """A message through the notifications outbox (event type ``automation.notice``)."""

    type: Literal["notify"]
    template: Template
    user_ids: list[int] = Field(default_factory=list, max_length=100)
    team_ids: list[int] = Field(default_factory=list, max_length=20)
    to_assignee: bool = False
    to_requester: bool = False
    to_team: bool = False

    @model_validator(mode="after")
    def _someone(self) -> "NotifyAction":
        if not (
            self.user_ids or self.team_ids or self.to_assignee or self.to_requester or self.to_team
        ):
            raise ValueError(
                "name somebody: user_ids, team_ids, to_assignee, to_requester, to_team"
            )
        return self


class LinkProblemAction(_Strict):
    """Link the incident to the problem (incidents only)."""

    type: Literal["link_problem"]
    problem_id: int


class LinkChangeAction(_Strict):
    """Record the incident as caused by the change (an implemented one), or set the change that
    caused a problem."""

    type: Literal["link_change"]
    change_id: int


class WebhookAction(_Strict):
    """POST to a registered webhook (signed, SSRF-checked: notifications' delivery)."""

    type: Literal["webhook"]
    webhook_id: int
    template: Template


class StopAction(_Strict):
    """No rule after this one runs for this change."""

    type: Literal["stop"]


Action = Annotated[
    SetFieldsAction
    | AssignAction
    | CommentAction
    | NotifyAction
    | LinkProblemAction
    | LinkChangeAction
    | WebhookAction
    | StopAction,
    Field(discriminator="type"),
]


class RuleCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    record_type: RecordType
    position: int = Field(100, ge=0, le=1_000_000, description="Rules run lowest first")
    is_active: bool = True
    trigger: TriggerKind
    every_minutes: int | None = Field(
        None, ge=5, le=525_600, description="schedule: how often (minutes); required for it"
    )
    conditions: Condition | None = Field(None, description="None: every record")
    actions: list[Action] = Field(min_length=1, max_length=20)
    stop_processing: bool = False

    @model_validator(mode="after")
    def _schedule(self) -> "RuleCreate":
        if (self.trigger == TriggerKind.schedule) != (self.every_minutes is not None):
            raise ValueError("every_minutes goes with the schedule trigger, and only with it")
        return self


class RuleUpdate(RequestBody):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    position: int | None = Field(None, ge=0, le=1_000_000)
    is_active: bool | None = None
    trigger: TriggerKind | None = None
    every_minutes: int | None = Field(None, ge=5, le=525_600)
    conditions: Condition | None = None
    actions: list[Action] | None = Field(None, min_length=1, max_length=20)
    stop_processing: bool | None = None


class RuleRead(ReadModel):
    id: int
    name: str
    description: str | None
    record_type: RecordType
    position: int
    is_active: bool
    trigger: TriggerKind
    every_minutes: int | None
    conditions: dict[str, Any] | None
    actions: list[dict[str, Any]]
    stop_processing: bool
    managed_by: str | None = Field(
        None, description="assignment_rules: an assignment rule, changed through that API only"
    )
    last_scheduled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_fired_at: datetime | None = None
    times_fired: int = 0
    failures: int = 0
    loops_cut: int = 0


RulePage = Page[RuleRead]


class RunRead(ReadModel):
    id: int
    rule_id: int
    record_type: str
    record_id: int
    trigger: str
    outcome: str
    detail: dict[str, Any] | None
    occurred_at: datetime


RunPage = Page[RunRead]


class RuleTest(RequestBody):
    """What to try the rule on: one record (``record``: id or number), with the changes to
    pretend (``changes``: ``{"priority": [3, 1]}``), or, without a record, the open records the
    rule's conditions match now (at most ``limit``)."""

    record: str | None = Field(None, max_length=64)
    changes: dict[str, list[Any]] = Field(default_factory=dict)
    limit: int = Field(50, ge=1, le=500)


class PlannedAction(BaseModel):
    type: str
    would: str = Field(description="What the action would do, in words")
    detail: dict[str, Any] = Field(default_factory=dict)


class RecordVerdict(BaseModel):
    record_id: int
    number: str
    matches: bool
    actions: list[PlannedAction] = Field(default_factory=list)


class RuleTestResult(BaseModel):
    rule_id: int
    dry_run: Literal[True] = True
    records: list[RecordVerdict]
    examined: int = Field(description="Records whose conditions were evaluated")


# ------------------------------------------------- the assignment-rule API (route rules)

Label120 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Label200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class AssignmentRuleCreate(RequestBody):
    name: Label200 = Field(min_length=1)
    position: int = Field(100, ge=0, le=1_000_000, description="Lower runs first")
    is_active: bool = True
    category: Label120 | None = None
    service: Label200 | None = None
    keywords: list[Keyword] = Field(default_factory=list, max_length=100)
    team_id: int


class AssignmentRuleUpdate(RequestBody):
    name: Label200 | None = Field(None, min_length=1)
    position: int | None = Field(None, ge=0, le=1_000_000)
    is_active: bool | None = None
    category: Label120 | None = None
    service: Label200 | None = None
    keywords: list[Keyword] | None = Field(None, max_length=100)
    team_id: int | None = None

    @model_validator(mode="after")
    def _check(self) -> "AssignmentRuleUpdate":
        nulls = [
            name
            for name in ("name", "position", "is_active", "keywords", "team_id")
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class AssignmentRuleRead(ReadModel):
    id: int
    name: str
    position: int
    is_active: bool
    category: str | None
    service: str | None
    keywords: list[str]
    team: TeamRef
    created_at: datetime
    updated_at: datetime


AssignmentRulePage = Page[AssignmentRuleRead]
