"""The service catalog: categories and items, each item's order form (a JSON Schema), approval
policy and fulfilment plan. Every change to an item is a new version whose snapshot is kept, so
an order placed against version 3 can always be read as it was; a retired item keeps its history.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import Role
from operational.cmdb import service as cmdb_service
from operational.core.concurrency import check_version
from operational.core.errors import Conflict, DomainError, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.requests.exceptions import InvalidFormSchema, InvalidOrderForm, ItemNotOrderable
from operational.requests.models import CatalogCategory, CatalogItem, CatalogItemVersion
from operational.requests.recording import now_or
from operational.requests.schemas import (
    CatalogItemCreate,
    CatalogItemFilters,
    CatalogItemUpdate,
    CategoryCreate,
    CategoryUpdate,
)
from operational.sla import service as sla_service

# The fields a version's snapshot keeps: everything an order relies on.
VERSIONED_FIELDS = (
    "category_id",
    "name",
    "description",
    "price",
    "currency",
    "fulfilment_team_id",
    "delivery_minutes",
    "calendar_id",
    "orderable_roles",
    "orderable_team_ids",
    "form_schema",
    "approval_policy",
    "fulfilment_plan",
    "is_active",
)
ITEM_SORTABLE = {
    "id": CatalogItem.id,
    "name": CatalogItem.name,
    "price": CatalogItem.price,
    "delivery_minutes": CatalogItem.delivery_minutes,
    "updated_at": CatalogItem.updated_at,
}
CATEGORY_SORTABLE = {"id": CatalogCategory.id, "name": CatalogCategory.name}


# ------------------------------------------------------------------------------ categories


def get_category(*, session: Session, category_id: int) -> CatalogCategory:
    category = session.get(CatalogCategory, category_id)
    if category is None:
        raise NotFound(f"Catalog category {category_id} does not exist")
    return category


def list_categories(
    *, session: Session, params: PageParams, active: bool | None = None
) -> Page[Any]:
    statement = select(CatalogCategory)
    if active is not None:
        statement = statement.where(CatalogCategory.is_active.is_(active))
    return paginate(
        session,
        statement,
        params,
        sortable=CATEGORY_SORTABLE,
        default_sort=[CatalogCategory.position, CatalogCategory.name],
    )


def _refuse_taken(session: Session, model: type, name: str, exclude_id: int | None) -> None:
    found = session.scalar(
        select(model.id).where(
            func.lower(model.name) == name.lower(), model.id != (exclude_id or 0)
        )
    )
    if found is not None:
        raise Conflict(f"{name!r} is taken", name=name)


def create_category(*, session: Session, data: CategoryCreate) -> CatalogCategory:
    _refuse_taken(session, CatalogCategory, data.name, None)
    category = CatalogCategory(**data.model_dump())
    session.add(category)
    session.flush()
    return category


def update_category(
    *, session: Session, category: CatalogCategory, data: CategoryUpdate
) -> CatalogCategory:
    for name in data.model_fields_set:
        value = getattr(data, name)
        if value is None and name != "description":
            continue
        if name == "name":
            _refuse_taken(session, CatalogCategory, value, category.id)
        setattr(category, name, value)
    session.flush()
    return category


# ---------------------------------------------------------------------------------- forms


def check_form_schema(schema: dict[str, Any]) -> None:
    """A 422 unless ``schema`` is a JSON Schema of an object (the answers)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidFormSchema(
            f"form_schema is not a valid JSON Schema: {exc.message}",
            field="form_schema",
            path=[str(part) for part in exc.absolute_path],
        ) from None
    if schema.get("type") != "object":
        raise InvalidFormSchema('form_schema must describe an object ("type": "object")')


def _format_checker(session: Session) -> FormatChecker:
    """The standard formats (date, email, ...) and ours: ``user`` and ``ci`` name existing ids."""
    checker = FormatChecker()

    @checker.checks("user", raises=(TypeError, ValueError))
    def _user(value: object) -> bool:
        return (
            isinstance(value, int)
            and auth_service.get_user(session=session, user_id=value) is not None
        )

    @checker.checks("ci", raises=(TypeError, ValueError, DomainError))
    def _ci(value: object) -> bool:
        if not isinstance(value, int):
            return False
        cmdb_service.get(session=session, ci_id=value)
        return True

    return checker


def _field_of(error: Any) -> list[str]:
    """The answer fields an error is about (each missing one, for ``required``)."""
    path = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        prefix = f"{path}." if path else ""
        return [f"{prefix}{name}" for name in error.validator_value if name not in error.instance]
    return [path or "(answers)"]


def form_errors(*, session: Session, schema: dict[str, Any], answers: Any) -> list[dict[str, str]]:
    """Every way ``answers`` fails the form, as ``{"field", "message"}``, by field."""
    validator = Draft202012Validator(schema, format_checker=_format_checker(session))
    found = []
    for error in validator.iter_errors(answers):
        for field in _field_of(error):
            message = error.message
            if error.validator == "format" and error.validator_value in ("user", "ci"):
                kind = "user" if error.validator_value == "user" else "configuration item"
                message = f"{error.instance!r} is not a known {kind} id"
            found.append({"field": field, "message": message})
    return sorted(found, key=lambda error: error["field"])


def validate_answers(
    *, session: Session, schema: dict[str, Any], answers: Any, line: int | None = None
) -> None:
    errors = form_errors(session=session, schema=schema, answers=answers)
    if errors:
        where = f"Line {line}: " if line is not None else ""
        names = ", ".join(dict.fromkeys(error["field"] for error in errors))
        raise InvalidOrderForm(
            f"{where}the answers do not fit the form ({names})",
            errors=[{**error, "line": line} if line is not None else error for error in errors],
        )


# ---------------------------------------------------------------------------------- items


def get_item(*, session: Session, item_id: int) -> CatalogItem:
    item = session.get(CatalogItem, item_id)
    if item is None:
        raise NotFound(f"Catalog item {item_id} does not exist")
    return item


def _visible_to(statement: Any, user: User) -> Any:
    team_ids = [membership.team_id for membership in user.memberships]
    return statement.where(
        or_(
            func.cardinality(CatalogItem.orderable_roles)
            + func.cardinality(CatalogItem.orderable_team_ids)
            == 0,
            CatalogItem.orderable_roles.overlap(user.roles or [""]),
            CatalogItem.orderable_team_ids.overlap(team_ids or [0]),
        )
    )


def list_items(
    *, session: Session, params: PageParams, filters: CatalogItemFilters, viewer: User
) -> Page[Any]:
    statement = select(CatalogItem)
    if filters.category_id is not None:
        statement = statement.where(CatalogItem.category_id == filters.category_id)
    if filters.active is not None:
        statement = statement.where(CatalogItem.is_active.is_(filters.active))
    if filters.orderable:
        statement = _visible_to(statement.where(CatalogItem.is_active), viewer)
    if filters.q and filters.q.strip():
        text = filters.q.strip()
        statement = statement.where(
            CatalogItem.name.icontains(text, autoescape=True)
            | CatalogItem.description.icontains(text, autoescape=True)
        )
    return paginate(
        session,
        statement,
        params,
        sortable=ITEM_SORTABLE,
        default_sort=[CatalogItem.name, CatalogItem.id],
    )


def may_order(item: CatalogItem, user: User) -> bool:
    if not item.orderable_roles and not item.orderable_team_ids:
        return True
    teams = {membership.team_id for membership in user.memberships}
    return bool(set(item.orderable_roles) & set(user.roles)) or bool(
        set(item.orderable_team_ids) & teams
    )


def ensure_orderable(item: CatalogItem, user: User) -> None:
    if not item.is_active:
        raise ItemNotOrderable(f"{item.name!r} has been retired", catalog_item_id=item.id)
    if not may_order(item, user):
        raise ItemNotOrderable(
            f"{item.name!r} can be ordered only by {', '.join(item.orderable_roles) or 'its teams'}"
            + (
                " or members of its teams"
                if item.orderable_roles and item.orderable_team_ids
                else ""
            ),
            catalog_item_id=item.id,
        )


def _check_references(session: Session, values: dict[str, Any]) -> None:
    def known(field: str, ok: bool) -> None:
        if not ok:
            raise UnprocessableEntity(f"{field} names nothing that exists", field=field)

    if values.get("category_id") is not None:
        known("category_id", session.get(CatalogCategory, values["category_id"]) is not None)
    team_ids = [values.get("fulfilment_team_id")]
    team_ids += [task["team_id"] for task in values["fulfilment_plan"]["tasks"]]
    team_ids += [stage["team_id"] for stage in values["approval_policy"]["stages"]]
    for team_id in filter(None, team_ids):
        known(
            f"team {team_id}", auth_service.get_team(session=session, team_id=team_id) is not None
        )
    for stage in values["approval_policy"]["stages"]:
        for user_id in stage["user_ids"]:
            known(
                f"user {user_id}",
                auth_service.get_user(session=session, user_id=user_id) is not None,
            )
    for team_id in values["orderable_team_ids"]:
        known(
            f"team {team_id}", auth_service.get_team(session=session, team_id=team_id) is not None
        )
    if values.get("calendar_id") is not None:
        sla_service.get_calendar(session=session, calendar_id=values["calendar_id"])
    if not values.get("fulfilment_team_id") and any(
        task["team_id"] is None for task in values["fulfilment_plan"]["tasks"]
    ):
        raise UnprocessableEntity(
            "A plan task without a team needs the item's fulfilment_team_id",
            field="fulfilment_plan",
        )
    roles = set(values["orderable_roles"]) - {role.value for role in Role}
    if roles:
        raise UnprocessableEntity(
            f"Unknown roles: {', '.join(sorted(roles))}", field="orderable_roles"
        )
    check_form_schema(values["form_schema"])


def _snapshot(item: CatalogItem) -> dict[str, Any]:
    snapshot = {name: getattr(item, name) for name in VERSIONED_FIELDS}
    snapshot["price"] = str(item.price) if isinstance(item.price, Decimal) else item.price
    return snapshot


def _keep_version(session: Session, item: CatalogItem, actor: User | None, now: datetime) -> None:
    session.add(
        CatalogItemVersion(
            item_id=item.id,
            version=item.version,
            snapshot=_snapshot(item),
            created_by_id=actor.id if actor else None,
            created_at=now,
        )
    )
    session.flush()


def _dumped(data: Any) -> dict[str, Any]:
    values = data.model_dump(mode="python")
    for name in ("approval_policy", "fulfilment_plan"):
        if name in values and values[name] is not None:
            values[name] = getattr(data, name).model_dump(mode="json")
    return values


def create_item(
    *, session: Session, data: CatalogItemCreate, actor: User | None, now: datetime | None = None
) -> CatalogItem:
    now = now_or(now)
    values = _dumped(data)
    _check_references(session, values)
    _refuse_taken(session, CatalogItem, data.name, None)
    item = CatalogItem(**values, version=1, created_at=now, updated_at=now)
    session.add(item)
    session.flush()
    _keep_version(session, item, actor, now)
    events.append(
        session=session,
        entity_type=EntityType.catalog_item,
        entity_id=item.id,
        kind=EventKind.created,
        actor=actor,
        new_value=item.name,
        data={"version": 1},
        occurred_at=now,
    )
    session.refresh(item)
    return item


def update_item(
    *,
    session: Session,
    item: CatalogItem,
    data: CatalogItemUpdate,
    actor: User | None,
    expected_version: int | None,
    now: datetime | None = None,
    retiring: bool = False,
) -> CatalogItem:
    """Apply the fields sent as a new version (412 when ``expected_version`` is stale). Orders
    already placed keep the version they were placed against."""
    now = now_or(now)
    session.execute(select(CatalogItem.id).where(CatalogItem.id == item.id).with_for_update())
    session.refresh(item)
    check_version(current=item.version, expected=expected_version, what=f"catalog item {item.id}")
    sent = {name: value for name, value in _dumped(data).items() if name in data.model_fields_set}
    nullable = {"description", "price", "fulfilment_team_id", "calendar_id"}
    sent = {name: value for name, value in sent.items() if value is not None or name in nullable}
    changed = {name: value for name, value in sent.items() if getattr(item, name) != value}
    if not changed:
        return item
    values = {name: getattr(item, name) for name in VERSIONED_FIELDS} | changed
    _check_references(session, values)
    if "name" in changed:
        _refuse_taken(session, CatalogItem, changed["name"], item.id)
    for name, value in changed.items():
        setattr(item, name, value)
    if "is_active" in changed:
        item.retired_at = None if item.is_active else now
    item.version += 1
    item.updated_at = now
    session.flush()
    _keep_version(session, item, actor, now)
    events.append(
        session=session,
        entity_type=EntityType.catalog_item,
        entity_id=item.id,
        kind=EventKind.state_changed if retiring else EventKind.field_changed,
        actor=actor,
        field="state" if retiring else "version",
        old_value="active" if retiring else item.version - 1,
        new_value="retired" if retiring else item.version,
        data={"fields": sorted(changed), "version": item.version},
        occurred_at=now,
    )
    session.refresh(item)
    return item


def retire_item(
    *,
    session: Session,
    item: CatalogItem,
    actor: User | None,
    expected_version: int | None,
    now: datetime | None = None,
) -> CatalogItem:
    """No new orders; orders placed before go on, and the item's history stays."""
    if not item.is_active:
        raise Conflict(f"{item.name!r} is retired already", retired_at=str(item.retired_at))
    return update_item(
        session=session,
        item=item,
        data=CatalogItemUpdate(is_active=False),
        actor=actor,
        expected_version=expected_version,
        now=now,
        retiring=True,
    )


def get_version(*, session: Session, item_id: int, version: int) -> CatalogItemVersion:
    found = session.scalar(
        select(CatalogItemVersion).where(
            CatalogItemVersion.item_id == item_id, CatalogItemVersion.version == version
        )
    )
    if found is None:
        raise NotFound(f"Catalog item {item_id} has no version {version}")
    return found


def list_versions(*, session: Session, item_id: int, params: PageParams) -> Page[Any]:
    return paginate(
        session,
        select(CatalogItemVersion).where(CatalogItemVersion.item_id == item_id),
        params,
        sortable={"version": CatalogItemVersion.version},
        default_sort=[CatalogItemVersion.version.desc()],
    )
