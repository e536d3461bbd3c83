"""The bases every domain's pydantic schemas build on.

- ``RequestBody``: every request body. Unknown fields are refused with a 422 naming them, never
  dropped silently, and text may not hold NUL characters (PostgreSQL text cannot store them).
- ``ReadModel``: every response built from a SQLAlchemy model (``XRead.model_validate(row)``).
  A field that shows a related row by one of its attributes names the path to it
  (``Field(validation_alias=AliasPath("ci_class", "name"))``); by name it takes the plain value,
  which is also what a missing (null) relation gives.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True, validate_by_name=True, validate_by_alias=True)
