from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, model_validator

from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.customfields.enums import FieldType, RecordType
from operational.customfields.models import NAME_PATTERN

Name = Annotated[str, StringConstraints(strip_whitespace=True, pattern=NAME_PATTERN)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AllowedValue = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
HelpText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]

# One value of a custom field, as JSON carries it; the field's definition says which is valid.
CustomValue = str | bool | int | float | list[str] | None

MAX_FIELDS_PER_RECORD = 200

VALUES_DESCRIPTION = (
    "Custom field values by field name (GET /api/v1/custom-fields?record_type=... lists the "
    "fields). By type: text, long_text, choice, date (YYYY-MM-DD) and datetime (ISO 8601, kept "
    "in UTC to the second) are strings; number is an integer; decimal a number; boolean true "
    "or false; multi_choice a list of strings; user, team and ci the id of that record. "
    "On update only the fields sent change, and null clears a field."
)
# A record's create and update bodies: ``custom_fields: CustomFieldValues | None =
# custom_fields_input()``.
CustomFieldValues = dict[str, CustomValue]


def custom_fields_input() -> Any:
    """The optional ``custom_fields`` member of a record's create and update bodies."""
    return Field(None, max_length=MAX_FIELDS_PER_RECORD, description=VALUES_DESCRIPTION)


def custom_fields_output() -> Any:
    """The ``custom_fields`` member of a record's response (requesters: the fields they see)."""
    return Field(default_factory=dict, description=VALUES_DESCRIPTION)


class DefinitionCreate(RequestBody):
    record_type: RecordType
    name: Name = Field(
        description="Key of the value and of filters (cf.<name>); lower case, digits, _; "
        "never reused nor renamed"
    )
    label: Label
    type: FieldType = Field(description="Fixed once defined: the values stored depend on it")
    required: bool = Field(False, description="Must have a value on create; cannot be cleared")
    default: CustomValue = Field(None, description="Set on create when no value is given")
    allowed_values: list[AllowedValue] = Field(
        default_factory=list, max_length=500, description="choice and multi_choice: the options"
    )
    help_text: HelpText | None = None
    requester_visible: bool = False
    requester_settable: bool = Field(False, description="Implies requester_visible")
    position: int = Field(100, ge=0, description="Lower shows first")

    @model_validator(mode="after")
    def _settable_is_visible(self) -> "DefinitionCreate":
        if self.requester_settable:
            self.requester_visible = True
        return self


class DefinitionUpdate(RequestBody):
    """Fields left out are unchanged. ``retired`` true retires the field (its values stay,
    nobody can set it); false brings it back."""

    label: Label | None = None
    required: bool | None = None
    default: CustomValue = None
    allowed_values: list[AllowedValue] | None = Field(None, max_length=500)
    help_text: HelpText | None = None
    requester_visible: bool | None = None
    requester_settable: bool | None = None
    position: int | None = Field(None, ge=0)
    retired: bool | None = None

    @model_validator(mode="after")
    def _not_null(self) -> "DefinitionUpdate":
        never_null = (
            "label",
            "required",
            "allowed_values",
            "requester_visible",
            "requester_settable",
            "position",
            "retired",
        )
        nulls = [
            name
            for name in never_null
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class DefinitionRead(ReadModel):
    id: int
    record_type: RecordType
    name: str
    label: str
    type: FieldType
    required: bool
    default: Any = Field(description="A value of the field's type, or null")
    allowed_values: list[str]
    help_text: str | None
    requester_visible: bool
    requester_settable: bool
    position: int
    retired_at: datetime | None
    created_at: datetime
    updated_at: datetime


DefinitionPage = Page[DefinitionRead]


class DefinitionFilters(BaseModel):
    record_type: RecordType | None = None
    include_retired: bool = Field(True, description="false: only the fields that can be set")
