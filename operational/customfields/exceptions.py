from typing import Any

from operational.core.errors import Conflict, UnprocessableEntity


class InvalidCustomFields(UnprocessableEntity):
    """One or more custom field values refused; ``errors`` names each field and why."""

    slug, title = "invalid-custom-fields", "Invalid custom field values"

    def __init__(self, errors: list[dict[str, Any]]):
        fields = ", ".join(f"cf.{error['field']}" for error in errors)
        super().__init__(
            f"Custom fields refused: {fields}",
            errors=errors,
            fields=[f"cf.{error['field']}" for error in errors],
        )


class DefinitionConflict(Conflict):
    slug, title = "custom-field-conflict", "Custom field definition conflict"
