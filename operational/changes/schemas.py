from datetime import datetime
from typing import Any

from pydantic import AliasPath, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from operational.changes.enums import (
    ApprovalRule,
    ChangeState,
    ChangeType,
    Decision,
    ReviewOutcome,
    RiskLevel,
)
from operational.changes.models import Change
from operational.cmdb.enums import Environment
from operational.cmdb.schemas import CIBrief, CIRead
from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.customfields.schemas import (
    CustomFieldValues,
    custom_fields_input,
    custom_fields_output,
)
from operational.incidents.schemas import IncidentBrief


class RiskAnswers(RequestBody):
    """The risk questionnaire (see GET /changes/risk-questions). Unanswered counts as risky."""

    done_before: bool | None = None
    backout_tested: bool | None = None
    service_outage: bool | None = None
    tested_outside_production: bool | None = None


def _window_in_order(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError("planned_end must be after planned_start")


class ChangeCreate(RequestBody):
    change_type: ChangeType
    template_id: int | None = Field(default=None, description="Required for standard changes")
    title: str | None = Field(
        default=None, min_length=1, max_length=300, description="Standard: the template's"
    )
    description: str | None = None
    justification: str | None = None
    implementation_plan: str | None = None
    backout_plan: str | None = None
    test_plan: str | None = None
    ci_ids: list[int] = Field(default_factory=list, description="Affected CIs")
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    requester_id: int | None = Field(default=None, description="Defaults to the caller")
    assignment_group_id: int | None = None
    implementer_id: int | None = None
    risk_answers: RiskAnswers | None = None
    custom_fields: CustomFieldValues | None = custom_fields_input()

    @model_validator(mode="after")
    def _check_window(self) -> "ChangeCreate":
        _window_in_order(self.planned_start, self.planned_end)
        return self


class ChangeUpdate(RequestBody):
    """Fields left out are unchanged. Plans, window, CIs and risk answers change only in new
    or assess; assignment group and implementer until the change ends."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = None
    justification: str | None = None
    implementation_plan: str | None = None
    backout_plan: str | None = None
    test_plan: str | None = None
    ci_ids: list[int] | None = None
    planned_start: AwareDatetime | None = None
    planned_end: AwareDatetime | None = None
    assignment_group_id: int | None = None
    implementer_id: int | None = None
    risk_answers: RiskAnswers | None = None
    custom_fields: CustomFieldValues | None = custom_fields_input()

    @model_validator(mode="after")
    def _check_window(self) -> "ChangeUpdate":
        _window_in_order(self.planned_start, self.planned_end)
        return self


class ApprovalRead(ReadModel):
    id: int
    stage: str
    round: int
    approver_id: int
    approver: str = Field(validation_alias=AliasPath("approver", "display_name"))
    decision: str
    comment: str
    decided_at: datetime


class ChangeSummary(ReadModel):
    id: int
    number: str
    title: str
    change_type: str
    state: str
    requester_id: int | None
    assignment_group_id: int | None
    implementer_id: int | None
    planned_start: datetime | None
    planned_end: datetime | None
    risk_score: int | None
    risk_level: str | None
    ci_ids: list[int]
    version: int
    custom_fields: dict[str, Any] = custom_fields_output()


ChangePage = Page[ChangeSummary]


class ChangeFilters(BaseModel):
    """List filters; every one given must hold."""

    state: list[ChangeState] = Field(default_factory=list)
    change_type: list[ChangeType] = Field(default_factory=list)
    requester_id: int | None = None
    assignment_group_id: int | None = None
    implementer_id: int | None = None
    ci_id: int | None = Field(None, description="Changes affecting this CI")
    risk_level: list[RiskLevel] = Field(default_factory=list)
    planned_from: AwareDatetime | None = Field(None, description="Window ends after")
    planned_to: AwareDatetime | None = Field(None, description="Window starts before")
    q: str | None = Field(
        None, description="Part of the title or number, or words of a custom field's text"
    )


class ChangeBrief(ReadModel):  # a change in another record's response (a CI's)
    id: int
    number: str
    title: str
    change_type: str
    state: str
    planned_start: datetime | None
    planned_end: datetime | None


class CIDetail(CIRead):  # a CI with its open incidents and upcoming changes
    open_incidents: list[IncidentBrief]
    upcoming_changes: list[ChangeBrief]


class ChangeRead(ChangeSummary):
    # Every field is in every response; the two the change row cannot give are filled by build.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    description: str | None
    template_id: int | None
    requester: str | None = Field(validation_alias=AliasPath("requester", "display_name"))
    raised_by_id: int | None = Field(description="Who raised it here (null when imported)")
    raised_by: str | None = Field(validation_alias=AliasPath("raised_by", "display_name"))
    assignment_group: str | None = Field(validation_alias=AliasPath("assignment_group", "name"))
    implementer: str | None = Field(validation_alias=AliasPath("implementer", "display_name"))
    justification: str | None
    implementation_plan: str | None
    backout_plan: str | None
    test_plan: str | None
    actual_start: datetime | None
    actual_end: datetime | None
    cis: list[CIBrief]
    risk_answers: dict[str, Any]
    risk_explanation: dict[str, Any] | None
    cab_stage: str | None
    cab_round: int
    cab_rule: str | None
    cab_quorum: int | None
    cab_outcome: str | None
    approvals: list[ApprovalRead]
    conflict_override_reason: str | None
    conflict_overridden_by_id: int | None
    review_outcome: str | None
    review_caused_incidents: bool | None
    review_notes: str | None
    reviewed_by_id: int | None
    reviewed_at: datetime | None
    caused_incident_ids: list[int] = Field(default_factory=list)
    allowed_transitions: list[str] = Field(default_factory=list)
    opened_at: datetime
    closed_at: datetime | None
    source_system: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def build(
        cls, change: Change, *, allowed: list[str], caused_incident_ids: list[int]
    ) -> "ChangeRead":
        return cls.model_validate(change).model_copy(
            update={"allowed_transitions": allowed, "caused_incident_ids": caused_incident_ids}
        )


class TransitionRequest(RequestBody):
    to: ChangeState
    reason: str | None = Field(default=None, description="Kept in the event log")


class OverrideRequest(RequestBody):
    reason: str = Field(min_length=3, description="Why the change may go ahead over conflicts")


class DecisionCreate(RequestBody):
    decision: Decision
    comment: str = Field(min_length=1)


class ReviewCreate(RequestBody):
    outcome: ReviewOutcome
    caused_incidents: bool
    incident_ids: list[int] = Field(
        default_factory=list, description='Incidents to link as "caused by" this change'
    )
    notes: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "ReviewCreate":
        if self.incident_ids and not self.caused_incidents:
            raise ValueError("incident_ids given but caused_incidents is false")
        return self


class CausedIncidentLink(RequestBody):
    incident_id: int


class TemplateCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=300)
    description: str | None = None
    justification: str | None = None
    implementation_plan: str = Field(min_length=1)
    backout_plan: str = Field(min_length=1)
    test_plan: str = Field(min_length=1)
    risk_answers: RiskAnswers = Field(default_factory=RiskAnswers)


class TemplateUpdate(RequestBody):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = None
    justification: str | None = None
    implementation_plan: str | None = Field(default=None, min_length=1)
    backout_plan: str | None = Field(default=None, min_length=1)
    test_plan: str | None = Field(default=None, min_length=1)
    risk_answers: RiskAnswers | None = None
    is_active: bool | None = None


class TemplateRead(ReadModel):
    id: int
    name: str
    title: str
    description: str | None
    justification: str | None
    implementation_plan: str | None
    backout_plan: str | None
    test_plan: str | None
    risk_answers: dict[str, Any]
    is_active: bool
    created_at: datetime
    updated_at: datetime


TemplatePage = Page[TemplateRead]


class CabRuleRead(ReadModel):
    change_type: str
    rule: str
    quorum: int | None
    updated_at: datetime


class CabRuleUpdate(RequestBody):
    rule: ApprovalRule
    quorum: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _quorum_with_rule(self) -> "CabRuleUpdate":
        if (self.rule == ApprovalRule.quorum) != (self.quorum is not None):
            raise ValueError("quorum is required with rule 'quorum' and only then")
        return self


class BlackoutCreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: str = Field(default="UTC", description="IANA zone the rule repeats in")
    rrule: str | None = Field(
        default=None, description="RFC 5545 RRULE, daily or coarser, e.g. FREQ=WEEKLY;BYDAY=SA"
    )
    environment: Environment | None = Field(
        default=None, description="Only changes touching CIs of this environment; null: all"
    )

    @model_validator(mode="after")
    def _order(self) -> "BlackoutCreate":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class BlackoutUpdate(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    timezone: str | None = None
    rrule: str | None = None
    environment: Environment | None = None
    is_active: bool | None = None


class BlackoutRead(ReadModel):
    id: int
    name: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    rrule: str | None
    environment: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


BlackoutPage = Page[BlackoutRead]


class BlackoutOccurrence(BaseModel):
    window_id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    environment: str | None


class CalendarRead(BaseModel):
    starts_at: datetime = Field(serialization_alias="from")
    ends_at: datetime = Field(serialization_alias="to")
    changes: list[ChangeSummary]
    blackouts: list[BlackoutOccurrence]


class RiskQuestion(BaseModel):
    key: str
    question: str
    risky_answer: bool
    points: int
