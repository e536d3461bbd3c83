"""Responses that PostgreSQL writes as JSON text, byte for byte as pydantic writes the model.

The hottest reads (an incident by id, a page of incidents) cost more in Python than in the
database: loading ORM objects, validating them into pydantic models and dumping those again. For
them, the query itself writes the response's JSON, and the route returns it as it comes.

``object_sql(Model, sources)`` is a SQL expression for one ``Model``: its fields in the model's
order, each written as pydantic's JSON serializer writes it (compact, ``Z`` for a zero UTC offset,
microseconds only when there are any, ``12.0`` for a whole float). Every field of the model needs
a source, so a field added to the model and not to the query fails at once, not in a client. The
tests compare the bytes with pydantic's over varied rows (tests/incidents/test_read_json.py).

Where PostgreSQL would write a value otherwise than pydantic (a float it writes with an exponent,
below 1e-4 or from 1e15, NaN, infinities), it writes ``UNWRITTEN`` (a control character, which
JSON text never holds unescaped) in its place: ``written(body)`` is then false, and the caller
builds that response through pydantic. Sources are SQL text written by the code (never by a
request), so the statements are fixed and PostgreSQL prepares them once per connection.
"""

import datetime as dt
import enum
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

UNWRITTEN = "\x01"


def written(body: bytes) -> bool:
    """Whether PostgreSQL wrote all of ``body`` as pydantic would."""
    return UNWRITTEN.encode() not in body


@dataclass(frozen=True)
class Json:
    """A source that already is JSON text (a nested object or an array)."""

    sql: str


Source = str | Json | None  # a column or expression; JSON text; None: always null


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _plain(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` → (X, True); anything else → (annotation, False)."""
    if get_origin(annotation) in (Union, UnionType):
        arguments = [argument for argument in get_args(annotation) if argument is not NoneType]
        if len(arguments) == 1:
            return arguments[0], True
    return annotation, False


# One to_char for the whole instant; the session's time zone gives the offset, as psycopg's does
# to the datetimes pydantic would write. pydantic leaves out zero microseconds and writes a zero
# offset as Z.
_INSTANT = 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'


def _value(annotation: Any, sql: str) -> str:
    kind, _ = _plain(annotation)
    if kind is bool or kind is int:
        return f"coalesce(({sql})::text, 'null')"
    is_enum = isinstance(kind, type) and issubclass(kind, enum.Enum)
    if is_enum and not all(isinstance(member.value, str) for member in kind):
        raise TypeError(f"{kind.__name__}: only enums of strings are written")
    if kind is str or is_enum:
        return f"coalesce(to_json(({sql}))::text, 'null')"
    if kind is dt.datetime:
        return (
            f"coalesce('\"' || replace(replace(to_char(({sql}), '{_INSTANT}'), '.000000', ''),"
            " '+00:00', 'Z') || '\"', 'null')"
        )
    if kind is float:
        # PostgreSQL's shortest round-trip digits are pydantic's between 1e-4 and 1e15; outside
        # (an exponent), NaN and infinities, the marker hands the response to pydantic.
        text = f"(({sql})::float8)::text"
        return (
            f"(case when ({sql}) is null then 'null' when {text} ~ '[eIN]' then chr(1)"
            f" when {text} ~ '[.]' then {text} else {text} || '.0' end)"
        )
    if get_origin(kind) is list and _plain(get_args(kind)[0])[0] is int:
        return f"coalesce(array_to_json(({sql}))::text, 'null')"
    raise TypeError(f"no SQL writes {annotation!r} as pydantic does")


def object_sql(
    model: type[BaseModel], sources: Mapping[str, Source], *, only: Collection[str] | None = None
) -> str:
    """A SQL expression: ``model``'s JSON as pydantic would write it, from ``sources`` (one per
    field, by field name). ``only``: just those fields, in the model's order, as pydantic's
    ``include=`` writes them (every field still needs its source)."""
    missing = [name for name in model.model_fields if name not in sources]
    unknown = [name for name in (*sources, *(only or ())) if name not in model.model_fields]
    if missing or unknown:
        raise KeyError(f"{model.__name__}: no SQL source for {missing}; unknown fields {unknown}")
    chosen = [
        (name, field) for name, field in model.model_fields.items() if only is None or name in only
    ]
    if not chosen:
        return "'{}'"
    parts = []
    for index, (name, field) in enumerate(chosen):
        key = json.dumps(field.serialization_alias or name, ensure_ascii=False)
        parts.append(_literal(("{" if index == 0 else ",") + key + ":"))
        source = sources[name]
        if source is None:
            parts.append("'null'")
        elif isinstance(source, Json):
            parts.append(f"({source.sql})")
        else:
            parts.append(_value(field.annotation, source))
    parts.append("'}'")
    return _concat(parts)


# concat() takes at most 100 arguments; it copies each piece once, where a chain of || copies
# the growing text again at every step.
_CONCAT_ARGUMENTS = 90


def _concat(parts: list[str]) -> str:
    while len(parts) > _CONCAT_ARGUMENTS:
        parts = [
            f"concat({', '.join(parts[start : start + _CONCAT_ARGUMENTS])})"
            for start in range(0, len(parts), _CONCAT_ARGUMENTS)
        ]
    return f"concat({', '.join(parts)})"


def nullable_object(present: str, model: type[BaseModel], sources: Mapping[str, Source]) -> Json:
    """``model``'s JSON where the condition ``present`` holds (a joined row exists), else null."""
    return Json(f"case when {present} then {object_sql(model, sources)} else 'null' end")


def arrays_by_key_sql(item: str, *, key: str, rows: str, order_by: str) -> str:
    """A subquery of (``key``, ``json``): for each value of ``key`` over ``rows`` (``FROM ...
    WHERE ...``), the JSON array of ``item`` in ``order_by``. One pass over all the rows wanted,
    for a page of records that each show a list (a key without rows has no row here)."""
    return (
        "(select grouped.key,"
        " concat('[', string_agg(grouped.item, ',' order by grouped.position), ']') as json"
        f" from (select {key} as key, {item} as item, {order_by} as position {rows}) as grouped"
        " group by grouped.key)"
    )


def enum_position(enumeration: type[enum.Enum], sql: str) -> str:
    """The position of ``sql``'s value in ``enumeration``'s order (an ``order_by``)."""
    values = ", ".join(_literal(str(member.value)) for member in enumeration)
    return f"array_position(array[{values}]::text[], ({sql})::text)"
