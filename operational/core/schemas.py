"""The bases every domain's pydantic schemas build on.

- ``RequestBody``: every request body. Unknown fields are refused with a 422 naming them, never
  dropped silently, and text may not hold NUL characters (PostgreSQL text cannot store them).
  No text field is longer than ``TEXT_MAX_LENGTH`` characters (422), unless it declares a
  shorter maximum of its own; the OpenAPI document shows each field's maximum
  (docs/security.md, "Input limits").
- ``ReadModel``: every response built from a SQLAlchemy model (``XRead.model_validate(row)``).
  A field that shows a related row by one of its attributes names the path to it
  (``Field(validation_alias=AliasPath("ci_class", "name"))``); by name it takes the plain value,
  which is also what a missing (null) relation gives.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

# The longest text a request may hold in one field (descriptions, notes, plans, comments).
TEXT_MAX_LENGTH = 50_000


def _document_text_maximum(schema: dict[str, Any]) -> None:
    """Show TEXT_MAX_LENGTH as the maxLength of every text property that has none."""
    for prop in schema.get("properties", {}).values():
        variants = [prop, *prop.get("anyOf", ())]
        variants += [variant["items"] for variant in variants if "items" in variant]
        for variant in variants:
            bounded = {"maxLength", "format", "enum", "const"} & set(variant)
            if variant.get("type") == "string" and not bounded:
                variant["maxLength"] = TEXT_MAX_LENGTH


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_text_maximum)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text_of_bounded_length(cls, value: Any) -> Any:
        for text in _texts(value):
            if "\x00" in text:
                raise ValueError("must not contain NUL characters")
            if len(text) > TEXT_MAX_LENGTH:
                raise ValueError(f"must be at most {TEXT_MAX_LENGTH:,} characters")
        return value


def _texts(value: Any) -> list[str]:
    """The strings of a field's value: itself, or those of a list of strings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)
