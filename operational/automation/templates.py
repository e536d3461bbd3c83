"""Comment, note and message templates: Jinja2 in a sandbox (admins write them), plain text.

A template sees the record's fields by name (``{{ number }}``, ``{{ title }}``,
``{{ priority }}``, ``{{ state }}``, ...), its custom fields as ``{{ cf.site }}``, the rule's
name as ``{{ rule_name }}`` and what changed as ``{{ changes.priority.new }}``. A name that is
not there renders empty."""

from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from operational.core.errors import UnprocessableEntity
from operational.tickets.hooks import custom_fields_of

MAX_RENDERED = 20_000

_ENVIRONMENT = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


def check(template: str, *, where: str) -> None:
    """A template that does not parse is a 422 naming where it is."""
    try:
        _ENVIRONMENT.parse(template)
    except TemplateError as exc:
        raise UnprocessableEntity(
            f"{where}: the template does not parse: {exc}", field=where
        ) from exc


def context(
    *,
    record: Any,
    fields: frozenset[str],
    rule_name: str,
    changes: Mapping[str, tuple[Any, Any]],
) -> dict[str, Any]:
    values = {name: getattr(record, name, None) for name in fields}
    values = {
        name: value.value if hasattr(value, "value") else value for name, value in values.items()
    }
    return {
        **values,
        "cf": dict(custom_fields_of(record)),
        "rule_name": rule_name,
        "changes": {name: {"old": old, "new": new} for name, (old, new) in changes.items()},
    }


def render(template: str, values: Mapping[str, Any]) -> str:
    """The text; a template that fails to render raises UnprocessableEntity (the rule fails)."""
    try:
        text = _ENVIRONMENT.from_string(template).render(**values)
    except TemplateError as exc:
        raise UnprocessableEntity(f"The template failed to render: {exc}") from exc
    return text[:MAX_RENDERED]
