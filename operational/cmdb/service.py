"""CI classes, configuration items, relationships and impact analysis.

Plain functions: they flush, never commit, and know nothing of HTTP. Every change to a CI is
appended to the event log (entity 'ci'); a relationship change is appended to both of its CIs.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import literal_column, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.cmdb.enums import (
    ACYCLIC_TYPES,
    IMPACT_FLOWS_FROM_SOURCE,
    ImpactDirection,
    RelationshipType,
)
from operational.cmdb.exceptions import (
    CIClassNotFound,
    CINotFound,
    DuplicateCI,
    DuplicateCIClass,
    DuplicateRelationship,
    InvalidAttributes,
    InvalidAttributeSchema,
    RelationshipCycle,
    RelationshipNotFound,
    SchemaBreaksExistingCIs,
)
from operational.cmdb.models import CIClass, CIRelationship, ConfigurationItem
from operational.cmdb.schemas import (
    CIClassCreate,
    CIClassUpdate,
    CICreate,
    CIUpdate,
    RelationshipCreate,
)
from operational.core.concurrency import check_version
from operational.core.db import SCHEMA
from operational.core.errors import BadRequest, UnprocessableEntity
from operational.core.pagination import Page, PageParams, order_by_clauses, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind

CI_SORTABLE = {
    "name": ConfigurationItem.name,
    "criticality": ConfigurationItem.criticality,
    "status": ConfigurationItem.status,
    "environment": ConfigurationItem.environment,
    "created_at": ConfigurationItem.created_at,
    "updated_at": ConfigurationItem.updated_at,
}
RELATIONSHIP_SORTABLE = {
    "type": CIRelationship.type,
    "created_at": CIRelationship.created_at,
    "source_ci_id": CIRelationship.source_ci_id,
    "target_ci_id": CIRelationship.target_ci_id,
}


# --- attribute schemas -------------------------------------------------------------------------


def check_attribute_schema(schema: dict[str, Any]) -> None:
    """Raise InvalidAttributeSchema unless ``schema`` is a JSON Schema for an object that can be
    evaluated on its own: it may refer only to its own definitions (``"$ref": "#/$defs/..."``),
    every reference must resolve, and no chain of references may loop without descending into
    the attributes (a loop that validation would follow for ever)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidAttributeSchema(
            f"The attribute schema is not valid JSON Schema: {exc.message}"
        ) from exc
    if schema.get("type") != "object":
        raise InvalidAttributeSchema('An attribute schema must have "type": "object"')
    problem = _reference_problem(schema)
    if problem:
        raise InvalidAttributeSchema(f"The attribute schema cannot be used: {problem}")


# Keywords that apply a subschema to the same value: a loop through them alone never ends.
_IN_PLACE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas")
_FOREIGN_REFERENCES = ("$dynamicRef", "$recursiveRef", "$id", "$anchor", "$dynamicAnchor")


def _subschemas(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


def _resolve(schema: dict[str, Any], reference: str) -> Any:
    """The subschema a local reference (``#/a/b``) names; KeyError when there is none."""
    node: Any = schema
    for raw in reference.removeprefix("#").split("/")[1:]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and part.isascii() and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else None
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(reference)
    return node


def _in_place_targets(schema: dict[str, Any], node: dict[str, Any]) -> Iterator[Any]:
    if isinstance(node.get("$ref"), str):
        yield _resolve(schema, node["$ref"])
    for keyword in _IN_PLACE:
        value = node.get(keyword)
        if isinstance(value, dict):
            yield from (value.values() if keyword == "dependentSchemas" else (value,))
        elif isinstance(value, list):
            yield from value


def _reference_problem(schema: dict[str, Any]) -> str | None:
    for node in _subschemas(schema):
        for keyword in _FOREIGN_REFERENCES:
            if keyword in node:
                return f"{keyword} is not supported; refer to local definitions with $ref"
        reference = node.get("$ref")
        if reference is None:
            continue
        if not isinstance(reference, str) or not reference.startswith("#"):
            return f'$ref {reference!r} is not local: use "#/$defs/<name>"'
        try:
            _resolve(schema, reference)
        except KeyError:
            return f"$ref {reference!r} names nothing in the schema"
    if any(_loops(schema, node) for node in _subschemas(schema)):
        return "a $ref chain loops back on itself without descending into a value"
    return None


def _loops(schema: dict[str, Any], start: dict[str, Any]) -> bool:
    """Whether in-place applicators (``$ref``, ``allOf``, ...) lead from ``start`` back to it."""
    seen: set[int] = set()
    pending = list(_in_place_targets(schema, start))
    while pending:
        current = pending.pop()
        if current is start:
            return True
        if isinstance(current, dict) and id(current) not in seen:
            seen.add(id(current))
            pending.extend(_in_place_targets(schema, current))
    return False


def attribute_errors(schema: dict[str, Any], attributes: dict[str, Any]) -> list[dict[str, str]]:
    """Each way ``attributes`` breaks ``schema``, as {path, message}; empty when valid. A schema
    that cannot be evaluated (stored before today's checks) is one error, never an exception."""
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    try:
        errors = sorted(validator.iter_errors(attributes), key=lambda error: list(error.path))
    except Exception as exc:  # an unresolvable $ref, endless recursion: the schema's fault
        return [{"path": "(schema)", "message": f"the class's schema cannot be evaluated: {exc}"}]
    return [
        {
            "path": "/".join(str(part) for part in error.absolute_path) or "(attributes)",
            "message": error.message,
        }
        for error in errors
    ]


def validate_attributes(ci_class: CIClass, attributes: dict[str, Any]) -> None:
    errors = attribute_errors(ci_class.attribute_schema, attributes)
    if errors:
        first = errors[0]
        raise InvalidAttributes(
            f"Attributes do not match class {ci_class.name!r}: {first['path']}: {first['message']}",
            ci_class=ci_class.name,
            errors=errors,
        )


# --- classes -----------------------------------------------------------------------------------


def list_classes(*, session: Session) -> Sequence[CIClass]:
    return session.scalars(select(CIClass).order_by(CIClass.name)).all()


def get_class(*, session: Session, name: str) -> CIClass:
    ci_class = session.scalar(select(CIClass).where(CIClass.name == name))
    if ci_class is None:
        raise CIClassNotFound(f"There is no CI class {name!r}", ci_class=name)
    return ci_class


def _record_class(
    session: Session, ci_class: CIClass, actor: User | None, before: dict[str, Any] | None
) -> None:
    """A class change as an event of the class's log, with the values before and after."""
    events.record_change(
        session=session,
        entity_type=EntityType.ci_class,
        entity_id=ci_class.id,
        actor=actor,
        before=before,
        after=events.snapshot(ci_class),
        label=ci_class.name,
    )


def create_class(*, session: Session, data: CIClassCreate, actor: User | None = None) -> CIClass:
    check_attribute_schema(data.attribute_schema)
    if session.scalar(select(CIClass.id).where(CIClass.name == data.name)) is not None:
        raise DuplicateCIClass(f"CI class {data.name!r} already exists")
    ci_class = CIClass(**data.model_dump())
    session.add(ci_class)
    session.flush()
    _record_class(session, ci_class, actor, None)
    return ci_class


def update_class(
    *, session: Session, ci_class: CIClass, data: CIClassUpdate, actor: User | None = None
) -> CIClass:
    """Change a class. A new attribute schema must still accept every CI of the class."""
    changes = data.model_dump(exclude_unset=True)
    schema = changes.get("attribute_schema")
    if schema is not None:
        check_attribute_schema(schema)
        breaking = []
        for ci_id, name, attributes in session.execute(
            select(ConfigurationItem.id, ConfigurationItem.name, ConfigurationItem.attributes)
            .where(ConfigurationItem.class_id == ci_class.id)
            .order_by(ConfigurationItem.id)
        ):
            errors = attribute_errors(schema, attributes)
            if errors:
                breaking.append({"ci_id": ci_id, "name": name, "errors": errors})
        if breaking:
            raise SchemaBreaksExistingCIs(
                f"{len(breaking)} CI(s) of class {ci_class.name!r} would not match the new "
                "schema; update them first",
                cis=breaking[:50],
                count=len(breaking),
            )
    before = events.snapshot(ci_class)
    for field, value in changes.items():
        if value is not None or field == "description":
            setattr(ci_class, field, value)
    ci_class.updated_at = datetime.now(UTC)
    session.flush()
    _record_class(session, ci_class, actor, before)
    return ci_class


# --- configuration items -----------------------------------------------------------------------


def get(*, session: Session, ci_id: int, for_update: bool = False) -> ConfigurationItem:
    statement = select(ConfigurationItem).where(ConfigurationItem.id == ci_id)
    if for_update:
        statement = statement.with_for_update(of=ConfigurationItem)
    ci = session.scalar(statement)
    if ci is None:
        raise CINotFound(f"There is no configuration item {ci_id}", ci_id=ci_id)
    return ci


def get_many(*, session: Session, ci_ids: Iterable[int]) -> list[ConfigurationItem]:
    """The CIs of ``ci_ids`` in that order; raises CINotFound naming the unknown ones."""
    wanted = list(dict.fromkeys(ci_ids))
    found = {
        ci.id: ci
        for ci in session.scalars(
            select(ConfigurationItem).where(ConfigurationItem.id.in_(wanted))
        ).all()
    }
    missing = [ci_id for ci_id in wanted if ci_id not in found]
    if missing:
        raise CINotFound(
            f"Unknown configuration item(s): {', '.join(map(str, missing))}", ci_ids=missing
        )
    return [found[ci_id] for ci_id in wanted]


def _check_team(session: Session, team_id: int | None) -> None:
    if team_id is not None and auth_service.get_team(session=session, team_id=team_id) is None:
        raise UnprocessableEntity(f"There is no team {team_id}", owner_team_id=team_id)


def _check_unique(
    session: Session, *, ci_class: CIClass, name: str, environment: str, ci_id: int | None
) -> None:
    statement = select(ConfigurationItem.id).where(
        ConfigurationItem.class_id == ci_class.id,
        ConfigurationItem.name == name,
        ConfigurationItem.environment == environment,
    )
    if ci_id is not None:
        statement = statement.where(ConfigurationItem.id != ci_id)
    with session.no_autoflush:  # the change under check must not reach the database first
        existing = session.scalar(statement)
    if existing is not None:
        raise DuplicateCI(f"A {ci_class.name} named {name!r} already exists in {environment}")


def create(*, session: Session, data: CICreate, actor: User | None) -> ConfigurationItem:
    ci_class = get_class(session=session, name=data.ci_class)
    validate_attributes(ci_class, data.attributes)
    _check_team(session, data.owner_team_id)
    ci = ConfigurationItem(
        name=data.name,
        class_id=ci_class.id,
        ci_class=ci_class,
        description=data.description,
        status=data.status.value,
        environment=data.environment.value,
        owner_team_id=data.owner_team_id,
        location=data.location,
        criticality=int(data.criticality),
        attributes=data.attributes,
    )
    _check_unique(session, ci_class=ci_class, name=ci.name, environment=ci.environment, ci_id=None)
    try:
        # Inside a savepoint, so that losing a race to the same name leaves the session usable.
        with session.begin_nested():
            session.add(ci)
    except IntegrityError as exc:
        raise DuplicateCI(
            f"A {ci_class.name} named {ci.name!r} already exists in {ci.environment}"
        ) from exc
    session.refresh(ci)
    events.append(
        session=session,
        entity_type=EntityType.ci,
        entity_id=ci.id,
        kind=EventKind.created,
        actor=actor,
        new_value=ci.name,
        data={
            "ci_class": ci_class.name,
            "status": ci.status,
            "environment": ci.environment,
            "criticality": ci.criticality,
            "owner_team_id": ci.owner_team_id,
            "location": ci.location,
            "attributes": ci.attributes,
        },
    )
    return ci


def _merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged


def _as_json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)


def update(
    *,
    session: Session,
    ci_id: int,
    data: CIUpdate,
    expected_version: int,
    actor: User | None,
) -> ConfigurationItem:
    """Apply the given fields; 412 when ``expected_version`` is not the current version."""
    ci = get(session=session, ci_id=ci_id, for_update=True)
    check_version(current=ci.version, expected=expected_version, what=f"CI {ci.id}")
    given = data.model_dump(exclude_unset=True)
    for required in ("name", "ci_class", "status", "environment", "criticality"):
        if required in given and given[required] is None:
            raise UnprocessableEntity(f"{required} cannot be null", field=required)

    ci_class = ci.ci_class
    if "ci_class" in given:
        ci_class = get_class(session=session, name=given.pop("ci_class"))
    attributes = ci.attributes
    if given.get("attributes") is not None:
        attributes = _merge_patch(ci.attributes, given.pop("attributes"))
    given.pop("attributes", None)
    validate_attributes(ci_class, attributes)
    if "owner_team_id" in given:
        _check_team(session, given["owner_team_id"])

    changed: list[tuple[str, Any, Any]] = []
    if ci_class.id != ci.class_id:
        changed.append(("ci_class", ci.ci_class.name, ci_class.name))
        ci.class_id, ci.ci_class = ci_class.id, ci_class
    if attributes != ci.attributes:
        changed.append(("attributes", _as_json(ci.attributes), _as_json(attributes)))
        ci.attributes = attributes
    for field, value in given.items():
        value = value.value if hasattr(value, "value") else value
        value = int(value) if field == "criticality" else value
        if getattr(ci, field) != value:
            changed.append((field, getattr(ci, field), value))
            setattr(ci, field, value)
    if not changed:
        return ci

    _check_unique(session, ci_class=ci_class, name=ci.name, environment=ci.environment, ci_id=ci.id)
    ci.version += 1
    ci.updated_at = datetime.now(UTC)
    session.flush()
    for field, old, new in changed:
        events.append(
            session=session,
            entity_type=EntityType.ci,
            entity_id=ci.id,
            kind=EventKind.field_changed,
            actor=actor,
            field=field,
            old_value=old,
            new_value=new,
        )
    return ci


def _attribute_filters(attr: Sequence[str]) -> dict[str, Any]:
    """``["os=linux", "cpu_cores=8"]`` → ``{"os": "linux", "cpu_cores": 8}``.

    A value that parses as JSON (numbers, true/false, quoted strings) is compared typed;
    anything else as text.
    """
    wanted: dict[str, Any] = {}
    for item in attr:
        key, separator, raw = item.partition("=")
        if not separator or not key.strip():
            raise BadRequest(f"attr {item!r} is not of the form key=value", attr=item)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if isinstance(value, dict | list) or value is None:
            value = raw
        wanted[key.strip()] = value
    return wanted


def search(
    *,
    session: Session,
    params: PageParams,
    q: str | None = None,
    ci_class: str | None = None,
    status: Sequence[str] = (),
    environment: Sequence[str] = (),
    owner_team_id: int | None = None,
    criticality: Sequence[int] = (),
    attr: Sequence[str] = (),
    attributes: str | None = None,
) -> Page[Any]:
    """CIs by name (substring, any case) and attributes (JSONB containment), with filters."""
    statement = select(ConfigurationItem)
    if q:
        statement = statement.where(ConfigurationItem.name.icontains(q, autoescape=True))
    if ci_class:
        statement = statement.where(
            ConfigurationItem.class_id == get_class(session=session, name=ci_class).id
        )
    if status:
        statement = statement.where(ConfigurationItem.status.in_(status))
    if environment:
        statement = statement.where(ConfigurationItem.environment.in_(environment))
    if owner_team_id is not None:
        statement = statement.where(ConfigurationItem.owner_team_id == owner_team_id)
    if criticality:
        statement = statement.where(ConfigurationItem.criticality.in_(criticality))
    contained = _attribute_filters(attr)
    if attributes:
        try:
            document = json.loads(attributes)
        except ValueError as exc:
            raise BadRequest("attributes must be a JSON object") from exc
        if not isinstance(document, dict):
            raise BadRequest("attributes must be a JSON object")
        contained.update(document)
    if contained:
        statement = statement.where(ConfigurationItem.attributes.contains(contained))
    return paginate(
        session,
        statement,
        params,
        sortable=CI_SORTABLE,
        default_sort=[ConfigurationItem.name, ConfigurationItem.id],
    )


def history(*, session: Session, ci_id: int, params: PageParams) -> Page[Any]:
    return events.history(
        session=session, entity_type=EntityType.ci, entity_id=ci_id, params=params
    )


# --- relationships -----------------------------------------------------------------------------


def get_relationship(*, session: Session, relationship_id: int) -> CIRelationship:
    relationship = session.get(CIRelationship, relationship_id)
    if relationship is None:
        raise RelationshipNotFound(
            f"There is no CI relationship {relationship_id}", relationship_id=relationship_id
        )
    return relationship


_REACHES = text(
    f"""
    with recursive reach(ci_id) as (
        select cast(:start as bigint)
        union
        select r.target_ci_id
        from reach join {SCHEMA}.ci_relationships r
          on r.source_ci_id = reach.ci_id and r.type = :type
    )
    select exists (select 1 from reach where ci_id = :goal)
    """
)

_PATH = text(
    f"""
    with recursive walk(ci_id, path) as (
        select cast(:start as bigint), array[cast(:start as bigint)]
        union all
        select ci_id, path from (
            select r.target_ci_id as ci_id, walk.path || r.target_ci_id as path,
                   row_number() over (partition by r.target_ci_id order by walk.path) as rank
            from walk join {SCHEMA}.ci_relationships r
              on r.source_ci_id = walk.ci_id and r.type = :type
            where not r.target_ci_id = any(walk.path)
        ) as step where rank = 1
    )
    select path from walk where ci_id = :goal order by cardinality(path) limit 1
    """
)


def _lock_relationship_type(session: Session, relationship_type: str) -> None:
    # Two concurrent inserts could each pass the cycle check and close a loop together.
    session.execute(
        text("select pg_advisory_xact_lock(hashtext('ci_relationships:' || :type))"),
        {"type": relationship_type},
    )


def create_relationship(
    *, session: Session, data: RelationshipCreate, actor: User | None
) -> CIRelationship:
    """Add ``source <type> target``; 409 when it exists or would close a forbidden cycle."""
    if data.source_ci_id == data.target_ci_id:
        raise RelationshipCycle(
            "A CI cannot be related to itself",
            cycle=[data.source_ci_id, data.source_ci_id],
            relationship_type=data.type.value,
        )
    source, target = get_many(session=session, ci_ids=[data.source_ci_id, data.target_ci_id])
    relationship_type = data.type.value
    if data.type in ACYCLIC_TYPES:
        _lock_relationship_type(session, relationship_type)
        closes_loop = session.scalar(
            _REACHES, {"start": target.id, "goal": source.id, "type": relationship_type}
        )
        if closes_loop:
            back = session.scalar(
                _PATH, {"start": target.id, "goal": source.id, "type": relationship_type}
            )
            cycle = [source.id, *back]
            names = {ci.id: ci.name for ci in get_many(session=session, ci_ids=cycle)}
            raise RelationshipCycle(
                f"{source.name} {relationship_type} {target.name} would form a cycle: "
                + f" {relationship_type} ".join(names[ci_id] for ci_id in cycle),
                cycle=cycle,
                relationship_type=relationship_type,
            )
    existing = session.scalar(
        select(CIRelationship).where(
            CIRelationship.source_ci_id == source.id,
            CIRelationship.type == relationship_type,
            CIRelationship.target_ci_id == target.id,
        )
    )
    if existing is not None:
        raise DuplicateRelationship(
            f"{source.name} {relationship_type} {target.name} already exists",
            relationship_id=existing.id,
        )
    relationship = CIRelationship(
        source_ci_id=source.id,
        type=relationship_type,
        target_ci_id=target.id,
        created_by_id=actor.id if actor else None,
    )
    session.add(relationship)
    session.flush()
    session.refresh(relationship)
    _record_relationship(session, relationship, EventKind.relationship_added, actor)
    return relationship


def delete_relationship(
    *, session: Session, relationship: CIRelationship, actor: User | None
) -> None:
    _record_relationship(session, relationship, EventKind.relationship_removed, actor)
    session.delete(relationship)
    session.flush()


def _record_relationship(
    session: Session, relationship: CIRelationship, kind: EventKind, actor: User | None
) -> None:
    description = f"{relationship.source.name} {relationship.type} {relationship.target.name}"
    data = {
        "relationship_id": relationship.id,
        "type": relationship.type,
        "source_ci_id": relationship.source_ci_id,
        "target_ci_id": relationship.target_ci_id,
    }
    for ci_id, role in (
        (relationship.source_ci_id, "source"),
        (relationship.target_ci_id, "target"),
    ):
        events.append(
            session=session,
            entity_type=EntityType.ci,
            entity_id=ci_id,
            kind=kind,
            actor=actor,
            field="relationship",
            old_value=description if kind == EventKind.relationship_removed else None,
            new_value=description if kind == EventKind.relationship_added else None,
            data={**data, "role": role},
        )


def list_relationships(
    *,
    session: Session,
    params: PageParams,
    ci_id: int | None = None,
    source_ci_id: int | None = None,
    target_ci_id: int | None = None,
    types: Sequence[str] = (),
) -> Page[Any]:
    statement = select(CIRelationship)
    if ci_id is not None:
        statement = statement.where(
            (CIRelationship.source_ci_id == ci_id) | (CIRelationship.target_ci_id == ci_id)
        )
    if source_ci_id is not None:
        statement = statement.where(CIRelationship.source_ci_id == source_ci_id)
    if target_ci_id is not None:
        statement = statement.where(CIRelationship.target_ci_id == target_ci_id)
    if types:
        statement = statement.where(CIRelationship.type.in_(types))
    return paginate(
        session,
        statement,
        params,
        sortable=RELATIONSHIP_SORTABLE,
        default_sort=[CIRelationship.id],
    )


# --- impact analysis ---------------------------------------------------------------------------


def _hops(direction: ImpactDirection) -> str:
    """The CIs one hop from ``frontier.ci_id`` in ``direction``, with the relationship used."""
    flows_from_source = ", ".join(f"'{kind.value}'" for kind in IMPACT_FLOWS_FROM_SOURCE)
    # Downstream goes from the CI that provides to the CIs that rely on it; upstream back.
    near, far = (
        ("target_ci_id", "source_ci_id")
        if direction == ImpactDirection.downstream
        else ("source_ci_id", "target_ci_id")
    )
    return f"""
        select r.{far} as ci_id, r.id as relationship_id
          from {SCHEMA}.ci_relationships r
         where r.{near} = frontier.ci_id and r.type not in ({flows_from_source})
        union all
        select r.{near}, r.id
          from {SCHEMA}.ci_relationships r
         where r.{far} = frontier.ci_id and r.type in ({flows_from_source})
    """


def _walk_sql(direction: ImpactDirection) -> str:
    """A breadth-first walk as a recursive CTE ``walk``, then ``reached``: one row per CI.

    ``walk`` holds one row per level: the CIs first reached at that depth (``frontier``, sorted),
    for each the CI it was reached from (``parents``) and the relationship used (``via``), and
    every CI seen so far (``seen``). A CI is expanded once, at its smallest depth, so the work is
    linear in the relationships walked; loops end because seen CIs are not walked again.
    Among CIs of the previous level that reach a CI, the one with the lowest id is its parent.
    """
    return f"""
        walk(depth, frontier, parents, via, seen) as (
            select 0, cast(:roots as bigint[]), cast(null as bigint[]),
                   cast(null as bigint[]), cast(:roots as bigint[])
            union all
            select walk.depth + 1, level.ids, level.parents, level.via, walk.seen || level.ids
              from walk
              cross join lateral (
                select array_agg(fresh.ci_id order by fresh.ci_id) as ids,
                       array_agg(fresh.parent_id order by fresh.ci_id) as parents,
                       array_agg(fresh.relationship_id order by fresh.ci_id) as via
                  from (
                    select distinct on (hop.ci_id)
                           hop.ci_id, frontier.ci_id as parent_id, hop.relationship_id
                      from unnest(walk.frontier) as frontier(ci_id)
                      cross join lateral ({_hops(direction)}) as hop
                      left join unnest(walk.seen) as seen(ci_id) on seen.ci_id = hop.ci_id
                     where seen.ci_id is null
                     order by hop.ci_id, frontier.ci_id, hop.relationship_id
                  ) as fresh
              ) as level
             where walk.depth < :depth and level.ids is not null
        ),
        reached as (
            select step.ci_id, walk.depth, step.parent_id, step.relationship_id
              from walk
              cross join lateral unnest(walk.frontier, walk.parents, walk.via)
                   as step(ci_id, parent_id, relationship_id)
             where walk.depth > 0
        )
    """


def impact_depths(
    *,
    session: Session,
    ci_ids: Sequence[int],
    direction: ImpactDirection = ImpactDirection.downstream,
    depth: int,
) -> dict[int, int]:
    """Every CI reached from ``ci_ids`` within ``depth`` hops (roots excluded) → its distance."""
    if not ci_ids:
        return {}
    statement = text(f"with recursive {_walk_sql(direction)} select ci_id, depth from reached")
    rows = session.execute(statement, {"roots": list(ci_ids), "depth": depth}).all()
    return {row.ci_id: row.depth for row in rows}


@dataclass(frozen=True)
class Reached:
    """A CI reached by the impact walk, with the path to it (ids from the root, and the
    relationship taken at each step after the root)."""

    ci: ConfigurationItem
    depth: int
    path: list[int]
    via: list[int]


def impact(
    *,
    session: Session,
    ci_id: int,
    direction: ImpactDirection,
    depth: int,
    params: PageParams,
) -> tuple[Page[Any], dict[int, str], dict[int, str]]:
    """One page of the CIs reached from ``ci_id``, each with one shortest path to it.

    Returns the page (of ``Reached``), the names of every CI on those paths and the types of
    every relationship on them. The walk, the count, the page and the paths of the page's CIs
    (climbing the parents level by level) are one statement.
    """
    root = get(session=session, ci_id=ci_id)
    sortable = {
        "depth": literal_column("reached.depth"),
        "name": literal_column("ci.name"),
        "criticality": literal_column("ci.criticality"),
    }
    clauses = order_by_clauses(
        params.sort,
        sortable,
        [sortable["depth"], sortable["name"], literal_column("reached.ci_id")],
    )
    order = ", ".join(str(clause.compile(dialect=postgresql.dialect())) for clause in clauses)
    statement = text(
        f"""
        with recursive {_walk_sql(direction)},
        page as (
            select reached.ci_id, reached.depth,
                   row_number() over (order by {order}) as position,
                   count(*) over () as total
              from reached join {SCHEMA}.configuration_items ci on ci.id = reached.ci_id
             order by position
             limit :limit offset :offset
        ),
        climb(item, ci_id, depth, path, via) as (
            select page.ci_id, page.ci_id, page.depth, array[page.ci_id],
                   cast(array[] as bigint[])
              from page
            union all
            select climb.item, walk.parents[found.position], climb.depth - 1,
                   climb.path || walk.parents[found.position],
                   climb.via || walk.via[found.position]
              from climb
              join walk on walk.depth = climb.depth
              cross join lateral (
                  select array_position(walk.frontier, climb.ci_id) as position
              ) as found
             where climb.depth > 0
        )
        select page.ci_id, page.depth, page.total, climb.path, climb.via
          from page join climb on climb.item = page.ci_id and climb.depth = 0
         order by page.position
        """
    )
    rows = session.execute(
        statement,
        {
            "roots": [root.id],
            "depth": depth,
            "limit": params.size,
            "offset": params.offset,
        },
    ).all()
    if rows:
        total = rows[0].total
    elif params.page > 1:
        total = len(
            impact_depths(session=session, ci_ids=[root.id], direction=direction, depth=depth)
        )
    else:
        total = 0
    # The climb collects each path from the far end back to the root.
    paths = {row.ci_id: (row.path[::-1], row.via[::-1]) for row in rows}
    cis = {ci.id: ci for ci in get_many(session=session, ci_ids=list(paths))}
    path_ids = {ci for path, _ in paths.values() for ci in path}
    via_ids = {relationship for _, via in paths.values() for relationship in via}
    names = dict(
        session.execute(
            select(ConfigurationItem.id, ConfigurationItem.name).where(
                ConfigurationItem.id.in_(path_ids)
            )
        ).all()
    )
    types = dict(
        session.execute(
            select(CIRelationship.id, CIRelationship.type).where(CIRelationship.id.in_(via_ids))
        ).all()
    )
    page = Page[Any](
        items=[
            Reached(
                ci=cis[row.ci_id],
                depth=row.depth,
                path=paths[row.ci_id][0],
                via=paths[row.ci_id][1],
            )
            for row in rows
        ],
        total=total,
        page=params.page,
        size=params.size,
    )
    return page, names, types


def relationship_types() -> list[dict[str, Any]]:
    return [
        {
            "type": kind.value,
            "acyclic": kind in ACYCLIC_TYPES,
            "impact_flows": "source to target"
            if kind in IMPACT_FLOWS_FROM_SOURCE
            else "target to source",
        }
        for kind in RelationshipType
    ]
