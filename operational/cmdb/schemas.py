from datetime import datetime
from typing import Any

from pydantic import AliasPath, BaseModel, Field

from operational.cmdb.enums import CIStatus, Criticality, Environment, RelationshipType
from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody

CLASS_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"


class CIClassCreate(RequestBody):
    name: str = Field(pattern=CLASS_NAME_PATTERN, examples=["load_balancer"])
    label: str = Field(min_length=1, max_length=120)
    description: str | None = None
    attribute_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"},
        description="A JSON Schema (draft 2020-12) of type object for the attributes.",
    )


class CIClassUpdate(RequestBody):
    label: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = None
    attribute_schema: dict[str, Any] | None = None


class CIClassRead(ReadModel):
    id: int
    name: str
    label: str
    description: str | None
    attribute_schema: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CICreate(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    ci_class: str = Field(description="Name of the CI class, e.g. server")
    description: str | None = None
    status: CIStatus = CIStatus.in_service
    environment: Environment = Environment.production
    owner_team_id: int | None = None
    location: str | None = Field(default=None, max_length=200)
    criticality: Criticality = Field(
        default=Criticality.medium, description="1 critical, 2 high, 3 medium, 4 low"
    )
    attributes: dict[str, Any] = Field(default_factory=dict)


class CIUpdate(RequestBody):
    """Fields left out are unchanged. ``attributes`` is a JSON merge patch (RFC 7396): given
    keys are set, keys set to null are removed, others are kept."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    ci_class: str | None = None
    description: str | None = None
    status: CIStatus | None = None
    environment: Environment | None = None
    owner_team_id: int | None = None
    location: str | None = Field(default=None, max_length=200)
    criticality: Criticality | None = None
    attributes: dict[str, Any] | None = None


class CIBrief(ReadModel):
    id: int
    name: str
    ci_class: str = Field(validation_alias=AliasPath("ci_class", "name"))
    status: str
    environment: str
    criticality: int


class CIRead(CIBrief):
    description: str | None
    owner_team_id: int | None
    owner_team: str | None = Field(validation_alias=AliasPath("owner_team", "name"))
    location: str | None
    attributes: dict[str, Any]
    source_system: str
    external_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


CIPage = Page[CIRead]


class RelationshipCreate(RequestBody):
    source_ci_id: int
    type: RelationshipType
    target_ci_id: int


class RelationshipRead(ReadModel):
    id: int
    source_ci_id: int
    source_name: str = Field(validation_alias=AliasPath("source", "name"))
    type: str
    target_ci_id: int
    target_name: str = Field(validation_alias=AliasPath("target", "name"))
    created_at: datetime


RelationshipPage = Page[RelationshipRead]


class ImpactStep(BaseModel):
    """One hop of a path. ``relationship_*`` describe the edge that led here (null at the root)."""

    ci_id: int
    name: str
    relationship_id: int | None = None
    relationship_type: str | None = None


class ImpactItem(BaseModel):
    ci: CIBrief
    depth: int
    path: list[ImpactStep] = Field(description="From the analysed CI to this one")


class ImpactPage(Page[ImpactItem]):
    ci_id: int
    direction: str
    depth: int
