"""Incident responses written by PostgreSQL: one statement gives an incident's ``IncidentRead``
JSON with its people, team and SLA timers (operational/core/json_sql.py), and the routes return
those bytes without loading ORM objects or pydantic models.

A row whose JSON PostgreSQL cannot write exactly as pydantic does comes back with ``body`` None,
and the router builds that one through the models. ``known_error`` and ``suggestions`` are null
here: they depend on the viewer and on other domains, and the router fills them in.

A list may ask for some fields only (``fields=``, ``Fields``): the statement then writes just
those, and joins only what they show (no people, team or timers' pass unless they are asked for).
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from operational.auth.models import Team, User
from operational.core import json_sql
from operational.core.db import read_connection
from operational.core.errors import BadRequest, NotFound
from operational.core.pagination import Page, PageParams
from operational.core.references import record_id, record_number
from operational.customfields import service as custom_fields
from operational.customfields.enums import RecordType
from operational.incidents import service, workflow
from operational.incidents.enums import IncidentState
from operational.incidents.models import Incident
from operational.incidents.schemas import (
    IncidentFilters,
    IncidentPage,
    IncidentRead,
    TeamRef,
    UserRef,
)
from operational.sla import timers as sla_timers
from operational.tickets.hints import KnownErrorHint

# Filled in by the router (per viewer, or only in a write's response).
LEFT_NULL = ("csat_invitation", "known_error", "suggestions")
# How every body built here ends: the router splices a known error in before it.
TAIL = b',"known_error":null,"suggestions":null}'

_NUMBER_LENGTH = Incident.__table__.c.number.type.length
_PAGE = TypeAdapter(IncidentPage)

# What a list's fields= may name: the response's own fields, and cf.<name> for one custom field.
FIELDS = tuple(IncidentRead.model_fields)
ALWAYS = "id"
CUSTOM = "custom_fields"


@dataclass(frozen=True)
class Fields:
    """A list's ``fields=``: the response fields its items hold (``id`` always, in the model's
    order), and, when ``custom_fields`` is there only through ``cf.<name>``, those names."""

    names: tuple[str, ...]
    custom: frozenset[str] | None = None  # None: all of custom_fields, if it is in names

    def include(self) -> dict[str, Any]:
        """pydantic's ``include=`` for the same fields (a response built through the models)."""
        include: dict[str, Any] = dict.fromkeys(self.names, True)
        if self.custom is not None:
            include[CUSTOM] = dict.fromkeys(self.custom, True)
        return include


def _asked(text: str) -> set[str]:
    """The names ``fields=`` gives; a 400 for none, or for a name that is neither a field of the
    response nor ``cf.<name>``."""
    asked = {part.strip() for part in text.split(",") if part.strip()}
    prefix = custom_fields.PREFIX
    allowed = [*FIELDS, f"{prefix}<name>"]
    if not asked:
        raise BadRequest(f"fields= names no field; allowed: {', '.join(allowed)}", allowed=allowed)
    unknown = sorted(name for name in asked if name not in FIELDS and not name.startswith(prefix))
    if unknown:
        raise BadRequest(
            f"Unknown field {unknown[0]!r} in fields=; allowed: {', '.join(allowed)}",
            unknown=unknown,
            allowed=allowed,
        )
    return asked


def _chosen(asked: set[str], named: set[str]) -> Fields:
    chosen = asked | {ALWAYS} | ({CUSTOM} if named else set())
    return Fields(
        names=tuple(name for name in FIELDS if name in chosen),
        custom=frozenset(named) if named and CUSTOM not in asked else None,
    )


def builtin_fields(text: str) -> Fields | None:
    """``fields=`` naming response fields only, as ``fields`` reads it (400s included); None
    when it names a custom field, whose check needs the definitions (``fields``)."""
    asked = _asked(text)
    if any(name.startswith(custom_fields.PREFIX) for name in asked):
        return None
    return _chosen(asked, set())


def fields(*, session: Session, viewer: User, text: str) -> Fields:
    """``fields=number,title,cf.site`` as a ``Fields``. An unknown name is a 400 that names it
    and the allowed ones; ``cf.<name>`` must be a custom field of incidents that the viewer may
    see (requesters: the requester-visible ones), as for the list's ``cf.`` filters, and costs
    one statement (the definitions)."""
    asked = _asked(text)
    prefix = custom_fields.PREFIX
    named = {name[len(prefix) :] for name in asked if name.startswith(prefix)}
    if named:
        read_connection(session)
        requester_only = not service.can_read_all(viewer)
        defined = [
            definition.name
            for definition in custom_fields.definitions(
                session=session, record_type=RecordType.incident
            )
            if definition.requester_visible or not requester_only
        ]
        if missing := sorted(f"{prefix}{name}" for name in named - set(defined)):
            allowed = [*FIELDS, *(f"{prefix}{name}" for name in defined)]
            raise BadRequest(
                f"Unknown field {missing[0]!r} in fields= (no such custom field); "
                f"allowed: {', '.join(allowed)}",
                unknown=missing,
                allowed=allowed,
            )
    return _chosen(asked, named)


@dataclass(frozen=True)
class IncidentJson:
    id: int
    version: int
    requester_id: int | None
    problem_id: int | None
    body: bytes | None  # None: PostgreSQL could not write it as pydantic would
    has_custom_fields: bool = False


def shown(item: IncidentJson, *, reads_all: bool, only: Fields | None = None) -> bytes | None:
    """``item``'s body as a viewer may see it, or None when the models must write it: the body
    holds every custom field, which only a viewer who reads all incidents sees, and only when
    the list asked for no ``cf.<name>`` subset."""
    if item.has_custom_fields and not (reads_all and (only is None or only.custom is None)):
        return None
    return item.body


def with_known_error(body: bytes, hint: KnownErrorHint | None) -> bytes:
    """The body with the known error behind the incident spliced in (None: as it is)."""
    if hint is None:
        return body
    return (
        body.removesuffix(TAIL)
        + b',"known_error":'
        + hint.model_dump_json().encode()
        + b',"suggestions":null}'
    )


def _user(alias: str) -> json_sql.Json:
    return json_sql.nullable_object(
        f"{alias}.id is not null",
        UserRef,
        {name: f"{alias}.{name}" for name in UserRef.model_fields},
    )


def _allowed_states_sql() -> str:
    """The workflow's moves from ``i.state`` as JSON text, from the same table as the model."""
    compact = (",", ":")
    cases = " ".join(
        f"when '{state.value}' then "
        f"'{json.dumps(workflow.allowed_from(state.value), separators=compact)}'"
        for state in IncidentState
    )
    return f"case i.state {cases} else '[]' end"


# A stored number pydantic would write otherwise than jsonb prints the digits stored (values are
# validated integers and shortest round-trip floats): with an exponent, from 1e15 or below 1e-4.
_EXPONENT_NUMBER = (
    '$.** ? (@.type() == "number" && (@ >= 1e15 || @ <= -1e15'
    " || (@ != 0 && @ > -0.0001 && @ < 0.0001)))"
)


def _custom_fields_sql() -> str:
    """``i.custom_fields`` as pydantic writes the dict: jsonb's scalars print as JSON does
    (strings escaped as ``to_json`` escapes them, in jsonb's key order, which is the order the
    models read them in); arrays (multi-choice) are written again without jsonb's spaces."""
    element = (
        "case jsonb_typeof(f.value) when 'array' then (select concat('[',"
        " string_agg(a.value::text, ',' order by a.n), ']')"
        " from jsonb_array_elements(f.value) with ordinality as a(value, n))"
        f" when 'object' then '{json_sql.UNWRITTEN}' else f.value::text end"
    )
    return (
        "case when i.custom_fields = '{}'::jsonb then '{}'"
        f" when jsonb_path_exists(i.custom_fields, '{_EXPONENT_NUMBER}')"
        f" then '{json_sql.UNWRITTEN}'"
        " else (select concat('{', string_agg(concat(to_json(f.key)::text, ':', "
        + element
        + "), ',' order by f.n), '}')"
        " from jsonb_each(i.custom_fields) with ordinality as f(key, value, n)) end"
    )


def _statement(source: str, join: str, ids: str, only: tuple[str, ...] | None = None) -> str:
    """``SELECT body, id, version, requester_id, problem_id`` of the incidents that ``source``
    (a FROM item joined to the incident ``i`` on ``join``) names; ``ids``: a SELECT of their ids,
    for their timers. ``only``: the body holds just those fields, and the statement joins only
    the rows they show."""
    columns = Incident.__table__.c
    sources: dict[str, json_sql.Source] = {
        name: f"i.{name}" for name in IncidentRead.model_fields if name in columns
    }
    sources |= {
        "requester": _user("requester"),
        "assignee": _user("assignee"),
        "assignment_group": json_sql.nullable_object(
            "team.id is not null", TeamRef, {name: f"team.{name}" for name in TeamRef.model_fields}
        ),
        "sla_timers": json_sql.Json("coalesce(timers.json, '[]')"),  # no row: no timers
        "allowed_states": json_sql.Json(_allowed_states_sql()),
        # All the stored values (an agent's view): a requester's, which hides fields, goes
        # through the models (``shown``).
        "custom_fields": json_sql.Json(_custom_fields_sql()),
    }
    sources |= dict.fromkeys(LEFT_NULL)
    users, teams = User.__table__.fullname, Team.__table__.fullname
    joins = {
        "requester": f" left join {users} as requester on requester.id = i.requester_id",
        "assignee": f" left join {users} as assignee on assignee.id = i.assignee_id",
        "assignment_group": f" left join {teams} as team on team.id = i.assignment_group_id",
        "sla_timers": f" left join {sla_timers.timers_json_sql(ids)} as timers"
        " on timers.key = i.id",
    }
    return (
        f"select {json_sql.object_sql(IncidentRead, sources, only=only)} as body,"
        " i.id, i.version, i.requester_id, i.problem_id, i.custom_fields <> '{}'::jsonb"
        f" from {source} join {Incident.__table__.fullname} as i on {join}"
        + "".join(sql for name, sql in joins.items() if only is None or name in only)
    )


@cache
def _by_id() -> str:
    return _statement(
        "(select %(id)s::bigint as id) as wanted", "i.id = wanted.id", "select %(id)s::bigint"
    )


@cache
def _by_number() -> str:
    return _statement(
        "(select %(number)s::text as number) as wanted",
        "i.number = wanted.number",
        f"select id from {Incident.__table__.fullname} where number = %(number)s",
    )


# One statement text per set of fields asked (each prepared per connection): the usual few.
@lru_cache(maxsize=256)
def _of_ids(only: tuple[str, ...] | None = None) -> str:
    return (
        _statement(
            "unnest(%(ids)s::bigint[]) with ordinality as wanted(id, position)",
            "i.id = wanted.id",
            "select unnest(%(ids)s::bigint[])",
            only,
        )
        + " order by wanted.position"
    )


def _found(row) -> IncidentJson:
    text, incident_id, version, requester_id, problem_id, has_custom_fields = row
    body = text.encode()
    return IncidentJson(
        id=incident_id,
        version=version,
        requester_id=requester_id,
        problem_id=problem_id,
        body=body if json_sql.written(body) else None,
        has_custom_fields=has_custom_fields,
    )


def lookup(reference: str) -> tuple[str, dict[str, Any]] | None:
    """The statement (psycopg's parameter style) and parameters that read the incident
    ``reference`` names: by id (``42``) or by number (``INC0000042``), as
    ``service.get_by_reference`` finds it; None when it can name none. Its row goes to
    ``from_row``."""
    reference = reference.strip()
    if (incident_id := record_id(reference)) is not None:
        return _by_id(), {"id": incident_id}
    if number := record_number(reference, max_length=_NUMBER_LENGTH):
        return _by_number(), {"number": number}
    return None


def from_row(row: Sequence[Any]) -> IncidentJson:
    """The incident of a row that ``lookup``'s statement read."""
    return _found(row)


def by_reference(*, session: Session, reference: str) -> IncidentJson:
    """By id (``42``) or by number (``INC0000042``), as ``service.get_by_reference`` finds it;
    anything else is not found."""
    reference = reference.strip()
    row = None
    connection = read_connection(session)
    if (statement := lookup(reference)) is not None:
        row = connection.exec_driver_sql(*statement).first()
    if row is None:
        raise NotFound(f"Incident {reference[:_NUMBER_LENGTH]!r} does not exist")
    return _found(row)


def page(
    *,
    session: Session,
    viewer: User,
    filters: IncidentFilters,
    params: PageParams,
    custom: Mapping[str, list[str]] | None = None,
    only: Fields | None = None,
) -> tuple[Page[Any], list[IncidentJson]]:
    """``service.search``'s page: the page of ids (with the total and cursor), and the
    incidents' JSON (``only``: with those fields only). Its statements read outside a
    transaction (read_connection)."""
    read_connection(session)
    found = service.search_ids(
        session=session, viewer=viewer, filters=filters, params=params, custom=custom
    )
    return found, of_ids(session=session, ids=[row.id for row in found.items], only=only)


def of_ids(
    *, session: Session, ids: Sequence[int], only: Fields | None = None
) -> list[IncidentJson]:
    """The incidents of ``ids``, in that order (a page); ``only``: with those fields only."""
    if not ids:
        return []
    statement = _of_ids(None if only is None else only.names)
    rows = read_connection(session).exec_driver_sql(statement, {"ids": list(ids)})
    return [_found(row) for row in rows]


def page_body(found: Page[Any], bodies: Iterable[bytes]) -> bytes:
    """A list's response: the items' bodies (written already) in the page's envelope (total,
    page, size, cursor) as the page model writes it."""
    envelope = _PAGE.dump_json(found.map(lambda _: None).model_copy(update={"items": []}))
    return b'{"items":[' + b",".join(bodies) + envelope.removeprefix(b'{"items":[')
