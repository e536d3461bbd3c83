"""Custom fields: the definitions (this domain's table), and the rules every record that carries
values follows: validation, what a requester sees, list filters (``cf.<name>``), sorting and
the changes to record as events.

The values live in each record's own ``custom_fields`` JSONB column and are written only by that
record's service, which calls ``validate`` first. Stored values are normalized so that the
database compares them as their type orders: integers and decimals as JSON numbers, dates as
``YYYY-MM-DD`` and date-times as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, fixed width: text order is time
order), multi-choice as a list in the order of the allowed values.
"""

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Numeric, cast, func, literal_column, or_, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.cmdb import service as cmdb_service
from operational.cmdb.exceptions import CINotFound
from operational.core.errors import BadRequest, Forbidden, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.core.schemas import TEXT_MAX_LENGTH
from operational.customfields.enums import (
    CHOICE_TYPES,
    NUMERIC_TYPES,
    RANGED_TYPES,
    REFERENCE_TYPES,
    FieldType,
)
from operational.customfields.exceptions import DefinitionConflict, InvalidCustomFields
from operational.customfields.models import CustomFieldDefinition
from operational.customfields.schemas import DefinitionCreate, DefinitionUpdate
from operational.events import service as events
from operational.events.enums import EntityType

# How a list names a custom field in filters and sorts, and events name it in ``field``.
PREFIX = "cf."
# Range filters, as the list contract spells them elsewhere (created_from / created_to):
# cf.<name>_from is "at or after", cf.<name>_to is "before".
RANGE_FROM, RANGE_TO = "_from", "_to"

TEXT_MAX = 1000
LONG_TEXT_MAX = TEXT_MAX_LENGTH
# JSON numbers that every client reads exactly.
INTEGER_LIMIT = 2**53
DECIMAL_DIGITS = 15

DEFINITION_SORTABLE = {
    "position": CustomFieldDefinition.position,
    "name": CustomFieldDefinition.name,
    "label": CustomFieldDefinition.label,
    "record_type": CustomFieldDefinition.record_type,
    "created_at": CustomFieldDefinition.created_at,
}
DEFINITION_ORDER = (
    CustomFieldDefinition.record_type,
    CustomFieldDefinition.position,
    CustomFieldDefinition.id,
)


# ---------------------------------------------------------------------------------- definitions


def definitions(
    *, session: Session, record_type: str, include_retired: bool = True
) -> list[CustomFieldDefinition]:
    """The record type's fields in display order."""
    statement = select(CustomFieldDefinition).where(
        CustomFieldDefinition.record_type == str(record_type)
    )
    if not include_retired:
        statement = statement.where(CustomFieldDefinition.retired_at.is_(None))
    return list(session.scalars(statement.order_by(*DEFINITION_ORDER[1:])))


def list_definitions(
    *,
    session: Session,
    params: PageParams,
    record_type: str | None = None,
    include_retired: bool = True,
    requester_only: bool = False,
) -> Page[Any]:
    statement = select(CustomFieldDefinition)
    if record_type is not None:
        statement = statement.where(CustomFieldDefinition.record_type == str(record_type))
    if not include_retired:
        statement = statement.where(CustomFieldDefinition.retired_at.is_(None))
    if requester_only:
        statement = statement.where(CustomFieldDefinition.requester_visible)
    return paginate(
        session,
        statement,
        params,
        sortable=DEFINITION_SORTABLE,
        default_sort=DEFINITION_ORDER,
    )


def get_definition(*, session: Session, definition_id: int) -> CustomFieldDefinition:
    definition = session.get(CustomFieldDefinition, definition_id)
    if definition is None:
        raise NotFound(f"There is no custom field {definition_id}")
    return definition


def _check_definition(session: Session, definition: CustomFieldDefinition) -> None:
    """The options fit the type, and the default is a valid value of the field."""
    field_type = FieldType(definition.type)
    if field_type in CHOICE_TYPES:
        if not definition.allowed_values:
            raise UnprocessableEntity(
                f"A {field_type.value} field needs allowed_values", field="allowed_values"
            )
        if len({value.casefold() for value in definition.allowed_values}) < len(
            definition.allowed_values
        ):
            raise UnprocessableEntity(
                "allowed_values must differ from one another", field="allowed_values"
            )
    elif definition.allowed_values:
        raise UnprocessableEntity(
            f"allowed_values apply only to choice and multi_choice, not {field_type.value}",
            field="allowed_values",
        )
    if definition.requester_settable and not definition.requester_visible:
        raise UnprocessableEntity(
            "A field requesters may set must be visible to them", field="requester_visible"
        )
    if definition.default is not None:
        try:
            definition.default = _coerce(session, definition, definition.default)
        except ValueError as exc:
            raise UnprocessableEntity(f"default: {exc}", field="default") from exc


def _record(
    session: Session,
    definition: CustomFieldDefinition,
    actor: User | None,
    before: dict[str, Any] | None,
) -> None:
    events.record_change(
        session=session,
        entity_type=EntityType.custom_field,
        entity_id=definition.id,
        actor=actor,
        before=before,
        after=events.snapshot(definition),
        label=f"{definition.record_type}.{definition.name}",
    )


def create_definition(
    *, session: Session, data: DefinitionCreate, actor: User | None = None
) -> CustomFieldDefinition:
    taken = session.scalar(
        select(CustomFieldDefinition.id).where(
            CustomFieldDefinition.record_type == data.record_type.value,
            CustomFieldDefinition.name == data.name,
        )
    )
    if taken is not None:
        raise DefinitionConflict(
            f"The {data.record_type.value} field {data.name!r} exists already (names are "
            "never reused, also after retirement)",
            field="name",
        )
    definition = CustomFieldDefinition(
        record_type=data.record_type.value,
        name=data.name,
        label=data.label,
        type=data.type.value,
        required=data.required,
        default=data.default,
        allowed_values=list(data.allowed_values),
        help_text=data.help_text,
        requester_visible=data.requester_visible,
        requester_settable=data.requester_settable,
        position=data.position,
    )
    _check_definition(session, definition)
    session.add(definition)
    session.flush()
    _record(session, definition, actor, None)
    return definition


def update_definition(
    *,
    session: Session,
    definition: CustomFieldDefinition,
    data: DefinitionUpdate,
    actor: User | None = None,
    now: datetime | None = None,
) -> CustomFieldDefinition:
    """Change what may change: the name and type are fixed (the stored values depend on them).
    Narrowing allowed_values keeps the values stored already; only new ones are checked."""
    before = events.snapshot(definition)
    given = data.model_dump(exclude_unset=True)
    retired = given.pop("retired", None)
    if given.get("requester_settable"):
        given.setdefault("requester_visible", True)
    for name, value in given.items():
        setattr(definition, name, list(value) if name == "allowed_values" else value)
    if retired is True and definition.retired_at is None:
        definition.retired_at = now or datetime.now(UTC)
    elif retired is False:
        definition.retired_at = None
    _check_definition(session, definition)
    session.flush()
    _record(session, definition, actor, before)
    return definition


# ---------------------------------------------------------------------------------- values


def _normal_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    return utc.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError("must be an integer") from None
    if not isinstance(value, int):
        raise ValueError("must be an integer")
    if not -INTEGER_LIMIT < value < INTEGER_LIMIT:
        raise ValueError(f"must be between -2^53 and 2^53, not {value}")
    return value


def _decimal(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if len(number.normalize().as_tuple().digits) > DECIMAL_DIGITS:
        raise ValueError(f"must have at most {DECIMAL_DIGITS} significant digits")
    stored = float(number)
    if math.isinf(stored):
        raise ValueError("is too large")
    return int(stored) if stored.is_integer() and abs(stored) < INTEGER_LIMIT else stored


def _reference(session: Session, field_type: FieldType, value: Any) -> int:
    try:
        identifier = _integer(value)
    except ValueError:
        raise ValueError(f"must be the id of a {field_type.value}") from None
    if field_type == FieldType.user:
        found = identifier > 0 and auth_service.get_user(session=session, user_id=identifier)
    elif field_type == FieldType.team:
        found = identifier > 0 and auth_service.get_team(session=session, team_id=identifier)
    else:
        try:
            found = identifier > 0 and cmdb_service.get(session=session, ci_id=identifier)
        except CINotFound:
            found = None
    if not found:
        raise ValueError(f"there is no {field_type.value} {identifier}")
    return identifier


def _choice(definition: CustomFieldDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be one of the allowed values (a string)")
    by_fold = {allowed.casefold(): allowed for allowed in definition.allowed_values}
    allowed = by_fold.get(value.strip().casefold())
    if allowed is None:
        raise ValueError(
            f"{value!r} is not allowed; allowed: {', '.join(definition.allowed_values)}"
        )
    return allowed


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if len(value) > limit:
        raise ValueError(f"must be at most {limit:,} characters")
    return value


def _coerce(session: Session | None, definition: CustomFieldDefinition, value: Any) -> Any:
    """The value as stored, or ValueError saying why it is not one of the field's type.
    ``session`` None skips the existence check of user, team and CI ids (filters)."""
    field_type = FieldType(definition.type)
    if field_type == FieldType.text:
        return _text(value, TEXT_MAX)
    if field_type == FieldType.long_text:
        return _text(value, LONG_TEXT_MAX)
    if field_type == FieldType.number:
        return _integer(value)
    if field_type == FieldType.decimal:
        return _decimal(value)
    if field_type == FieldType.boolean:
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if field_type == FieldType.date:
        if isinstance(value, datetime) or not isinstance(value, str | date):
            raise ValueError("must be a date (YYYY-MM-DD)")
        try:
            parsed = value if isinstance(value, date) else date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD)") from None
        return parsed.isoformat()
    if field_type == FieldType.datetime:
        if not isinstance(value, str | datetime):
            raise ValueError("must be a date-time (ISO 8601)")
        try:
            parsed_at = (
                value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
            )
        except ValueError:
            raise ValueError("must be a date-time (ISO 8601)") from None
        return _normal_datetime(parsed_at)
    if field_type == FieldType.choice:
        return _choice(definition, value)
    if field_type == FieldType.multi_choice:
        if not isinstance(value, list):
            raise ValueError("must be a list of allowed values")
        chosen = {_choice(definition, item) for item in value}
        return [allowed for allowed in definition.allowed_values if allowed in chosen]
    if session is None:
        return _integer(value)
    return _reference(session, field_type, value)


@dataclass(frozen=True)
class FieldChange:
    """One custom field whose value changed: ``event_field`` names it in the event log."""

    name: str
    old: Any
    new: Any

    @property
    def event_field(self) -> str:
        return f"{PREFIX}{self.name}"


def event_text(value: Any) -> str | None:
    """A value as the event log's old_value / new_value text: strings as they are, the rest as
    JSON (true, 12.5, ["a", "b"])."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[FieldChange]:
    """The fields whose value differs, by name: what a record's service records as events."""
    return [
        FieldChange(name, before.get(name), after.get(name))
        for name in sorted({*before, *after})
        if before.get(name) != after.get(name)
    ]


def validate(
    *,
    session: Session,
    record_type: str,
    values: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None = None,
    requester_only: bool = False,
) -> dict[str, Any]:
    """The record's values after applying ``values``: on create (``current`` None) the
    defaults fill the fields not given and every required field needs a value; on update only
    the fields given change, and null clears one.

    Refused, all at once in one 422 naming each field: an unknown field, a value of the wrong
    type or not allowed, a required field left empty, a retired field given a new value.
    ``requester_only`` (the actor is a requester): fields not visible to requesters are unknown,
    and setting a visible one they may not set is a 403; required fields they cannot set are
    left for the agents.
    """
    values = dict(values or {})
    if not values and current is not None:
        return dict(current)
    fields = {
        definition.name: definition
        for definition in definitions(session=session, record_type=record_type)
    }
    return _apply(session, fields, values, current, requester_only=requester_only)


def _apply(
    session: Session,
    fields: Mapping[str, CustomFieldDefinition],
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *,
    requester_only: bool = False,
    imported: bool = False,
) -> dict[str, Any]:
    """``validate`` over the record type's ``fields``; ``imported``: what another tool's export
    says, taken as it is (no defaults, no required fields, retired fields too)."""
    creating = current is None
    result = dict(current or {})
    errors: list[dict[str, Any]] = []
    not_settable: list[str] = []
    for name, value in values.items():
        definition = fields.get(name)
        if definition is None or (requester_only and not definition.requester_visible):
            errors.append({"field": name, "reason": "unknown", "detail": "no such field"})
            continue
        if value == result.get(name):
            continue  # sent back unchanged, as read: never an error, also when retired
        if requester_only and not definition.requester_settable:
            not_settable.append(name)
            continue
        if definition.retired_at is not None and not imported:
            errors.append(
                {"field": name, "reason": "retired", "detail": "retired: it can no longer be set"}
            )
            continue
        if value is None or value == [] or value == "":
            if definition.required and not imported:
                errors.append({"field": name, "reason": "required", "detail": "is required"})
            result.pop(name, None)
            continue
        try:
            result[name] = _coerce(session, definition, value)
        except ValueError as exc:
            reason = "not_allowed" if FieldType(definition.type) in CHOICE_TYPES else "invalid"
            errors.append({"field": name, "reason": reason, "detail": str(exc)})
    if creating and not imported:
        for name, definition in fields.items():
            if name in values or definition.retired_at is not None:
                continue
            if definition.default is not None:
                result[name] = definition.default
            elif definition.required and (definition.requester_settable or not requester_only):
                errors.append({"field": name, "reason": "required", "detail": "is required"})
    if not_settable:
        raise Forbidden(
            f"Requesters may not set {', '.join(PREFIX + name for name in not_settable)}",
            fields=[PREFIX + name for name in not_settable],
        )
    if errors:
        raise InvalidCustomFields(errors)
    return result


def importer(*, session: Session, record_type: str, separator: str = ";") -> Any:
    """A function from one imported record's custom field texts (name → the export's text) to
    its values, or InvalidCustomFields naming the bad ones. The definitions are read once; a
    multi-choice's options are split on ``separator``; user, team and CI fields take an id, or
    a user's e-mail address and a team's name."""
    fields = {
        definition.name: definition
        for definition in definitions(session=session, record_type=record_type)
    }

    def read(definition: CustomFieldDefinition | None, text: str) -> Any:
        field_type = FieldType(definition.type) if definition is not None else None
        if field_type == FieldType.multi_choice:
            return [part.strip() for part in text.split(separator) if part.strip()]
        if field_type == FieldType.user and not text.isdigit():
            user = auth_service.get_by_email(session=session, email=text)
            return user.id if user is not None else text
        if field_type == FieldType.team and not text.isdigit():
            team = auth_service.get_team_by_name(session=session, name=text)
            return team.id if team is not None else text
        return text

    def convert(texts: Mapping[str, str]) -> dict[str, Any]:
        values = {name: read(fields.get(name), text) for name, text in texts.items()}
        return _apply(session, fields, values, None, imported=True)

    return convert


def visible(
    *, session: Session, record_type: str, requester_only: bool
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function from a record's values to those a viewer may see: all of them, or a
    requester's visible ones (the definitions read once, for a whole page)."""
    if not requester_only:
        return dict
    shown = {
        definition.name
        for definition in definitions(session=session, record_type=record_type)
        if definition.requester_visible
    }
    return lambda values: {name: value for name, value in values.items() if name in shown}


# ---------------------------------------------------------------------------------- lists


def value_expression(column: Any, definition: CustomFieldDefinition) -> ColumnElement[Any]:
    """The value as SQL compares and sorts it: numbers as numeric, the rest as text (dates and
    date-times are fixed-width ISO text, whose order is time order). An expression index over
    exactly this expression serves the field's ranges and sorts (docs/custom-fields.md)."""
    # The name inlined (it is [a-z0-9_] by its check constraint), so that prepared statements'
    # generic plans still match an expression index.
    text = column.op("->>")(literal_column(f"'{definition.name}'"))
    if FieldType(definition.type) in NUMERIC_TYPES | REFERENCE_TYPES:
        return cast(text, Numeric)
    return text


@dataclass(frozen=True)
class _Filter:
    definition: CustomFieldDefinition
    bound: str | None  # None: equality; RANGE_FROM or RANGE_TO


def _parse_key(
    key: str, fields: Mapping[str, CustomFieldDefinition], requester_only: bool
) -> _Filter:
    name = key[len(PREFIX) :]

    def usable(candidate: str) -> CustomFieldDefinition | None:
        definition = fields.get(candidate)
        if definition is None or (requester_only and not definition.requester_visible):
            return None
        return definition

    if (definition := usable(name)) is not None:
        return _Filter(definition, None)
    for bound in (RANGE_FROM, RANGE_TO):
        if name.endswith(bound) and (definition := usable(name[: -len(bound)])) is not None:
            if FieldType(definition.type) not in RANGED_TYPES:
                raise BadRequest(
                    f"{key}: ranges apply to number, decimal, date and datetime fields, not "
                    f"{definition.type}",
                    parameter=key,
                )
            return _Filter(definition, bound)
    raise BadRequest(f"{key}: there is no custom field {name!r} to filter by", parameter=key)


def _filter_value(key: str, definition: CustomFieldDefinition, raw: str) -> Any:
    if "\x00" in raw:
        raise BadRequest(f"{key}: must not contain NUL characters", parameter=key)
    try:
        return _coerce(
            None, definition, [raw] if definition.type == FieldType.multi_choice else raw
        )
    except ValueError as exc:
        raise BadRequest(f"{key}: {exc}", parameter=key) from exc


def filter_clauses(
    *,
    session: Session,
    record_type: str,
    column: Any,
    params: Mapping[str, list[str]],
    requester_only: bool = False,
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the list filters ``cf.<name>=v`` (repeated: any of them) and
    ``cf.<name>_from=`` / ``cf.<name>_to=`` (at or after / before). An unknown field, a range
    on an unordered type or a value the field cannot hold is a 400.

    Equality is JSON containment (``@>``), which the GIN index on the column serves; text and
    long text compare case-insensitively instead, like the lists' other text filters."""
    if not params:
        return []
    fields = {
        definition.name: definition
        for definition in definitions(session=session, record_type=record_type)
    }
    clauses: list[ColumnElement[bool]] = []
    for key, raws in params.items():
        wanted = _parse_key(key, fields, requester_only)
        definition = wanted.definition
        if wanted.bound is not None:
            for raw in raws:
                value = _filter_value(key, definition, raw)
                expression = value_expression(column, definition)
                clauses.append(
                    expression >= value if wanted.bound == RANGE_FROM else expression < value
                )
            continue
        alternatives = []
        for raw in raws:
            if definition.type in (FieldType.text, FieldType.long_text):
                _filter_value(key, definition, raw)  # refuses NUL and overlong text
                alternatives.append(
                    func.lower(value_expression(column, definition)) == raw.strip().lower()
                )
                continue
            value = _filter_value(key, definition, raw)
            alternatives.append(column.contains({definition.name: value}))
        clauses.append(or_(*alternatives))
    return clauses


def sortable(
    *,
    session: Session,
    record_type: str,
    column: Any,
    sort: str | None,
    requester_only: bool = False,
) -> dict[str, ColumnElement[Any]]:
    """The ``cf.<name>`` entries a list adds to its sortable fields for ``sort``: the custom
    fields it names (sort=cf.site,-cf.cost), by their value's order. None named: none."""
    named = {
        part.strip().lstrip("-+")[len(PREFIX) :]
        for part in (sort or "").split(",")
        if part.strip().lstrip("-+").startswith(PREFIX)
    }
    if not named:
        return {}
    return {
        f"{PREFIX}{definition.name}": value_expression(column, definition)
        for definition in definitions(session=session, record_type=record_type)
        if definition.name in named and (definition.requester_visible or not requester_only)
    }


def query_params(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The ``cf.`` parameters of a query string, each with all its values."""
    found: dict[str, list[str]] = {}
    for key, value in items:
        if key.startswith(PREFIX):
            found.setdefault(key, []).append(value)
    return found


def search_vector(config: str, column: Any) -> ColumnElement[Any]:
    """The words of a record's string values (text, long text, choices), for full-text search:
    the same expression that incidents' generated search vector holds (SEARCH_EXPRESSION)."""
    # The configuration written as a constant, not a parameter: so that PostgreSQL can match
    # the expression to an index over it (problems: ix_problems_custom_fields_search).
    return func.jsonb_to_tsvector(
        literal_column(f"'{config}'::regconfig"), column, literal_column("'[\"string\"]'::jsonb")
    )
