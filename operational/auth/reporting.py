"""The reporting line: who a person reports to (their manager) and which cost centre they are
charged to, whose owner approves spending on it. Request approvals follow it
(docs/requests.md, "Approvals"). Plain functions: they flush, never commit."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth.models import CostCenter, User
from operational.auth.schemas import CostCenterCreate, ReportingLineWrite
from operational.core.errors import Conflict, NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind

COST_CENTER_SORTABLE = {"id": CostCenter.id, "code": CostCenter.code, "name": CostCenter.name}


def get_cost_center(*, session: Session, cost_center_id: int) -> CostCenter:
    found = session.get(CostCenter, cost_center_id)
    if found is None:
        raise NotFound(f"Cost centre {cost_center_id} does not exist")
    return found


def list_cost_centers(*, session: Session, params: PageParams, q: str | None = None) -> Page[Any]:
    statement = select(CostCenter)
    if q:
        text = q.strip()
        statement = statement.where(
            CostCenter.code.icontains(text, autoescape=True)
            | CostCenter.name.icontains(text, autoescape=True)
        )
    return paginate(
        session, statement, params, sortable=COST_CENTER_SORTABLE, default_sort=[CostCenter.id]
    )


def _known_user(session: Session, user_id: int, field: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UnprocessableEntity(f"User {user_id} does not exist", field=field)
    return user


def create_cost_center(
    *, session: Session, data: CostCenterCreate, actor: User | None
) -> CostCenter:
    code = data.code.strip().upper()
    if session.scalar(select(CostCenter.id).where(func.upper(CostCenter.code) == code)):
        raise Conflict(f"A cost centre with code {code!r} exists", code=code)
    if data.owner_id is not None:
        _known_user(session, data.owner_id, "owner_id")
    cost_center = CostCenter(code=code, name=data.name.strip(), owner_id=data.owner_id)
    session.add(cost_center)
    session.flush()
    events.append(
        session=session,
        entity_type=EntityType.cost_center,
        entity_id=cost_center.id,
        kind=EventKind.created,
        actor=actor,
        new_value=code,
        data={"name": cost_center.name, "owner_id": cost_center.owner_id},
    )
    return cost_center


def _reports_to(session: Session, user: User, manager: User) -> bool:
    """Whether ``manager`` is ``user`` or reports to them, however indirectly."""
    seen: set[int] = set()
    current: User | None = manager
    while current is not None and current.id not in seen:
        if current.id == user.id:
            return True
        seen.add(current.id)
        current = session.get(User, current.manager_id) if current.manager_id else None
    return False


def set_reporting_line(
    *, session: Session, user: User, data: ReportingLineWrite, actor: User | None
) -> User:
    """Set the fields sent; a manager who (indirectly) reports to the user is a 422 (no loops)."""
    session.execute(select(User.id).where(User.id == user.id).with_for_update())
    fields = data.model_fields_set
    if "manager_id" in fields and data.manager_id is not None:
        manager = _known_user(session, data.manager_id, "manager_id")
        if _reports_to(session, user, manager):
            raise UnprocessableEntity(
                f"{manager.display_name} reports to {user.display_name}: that would be a loop",
                field="manager_id",
            )
    if (
        "cost_center_id" in fields
        and data.cost_center_id is not None
        and session.get(CostCenter, data.cost_center_id) is None
    ):
        raise UnprocessableEntity(
            f"Cost centre {data.cost_center_id} does not exist", field="cost_center_id"
        )
    for name in ("manager_id", "cost_center_id"):
        if name in fields and getattr(user, name) != getattr(data, name):
            events.append(
                session=session,
                entity_type=EntityType.user,
                entity_id=user.id,
                kind=EventKind.field_changed,
                actor=actor,
                field=name,
                old_value=getattr(user, name),
                new_value=getattr(data, name),
            )
            setattr(user, name, getattr(data, name))
    session.flush()
    return user


def manager_of(*, session: Session, user: User) -> User | None:
    return session.get(User, user.manager_id) if user.manager_id else None


def cost_center_owner_of(*, session: Session, user: User) -> User | None:
    if user.cost_center_id is None:
        return None
    cost_center = session.get(CostCenter, user.cost_center_id)
    if cost_center is None or cost_center.owner_id is None:
        return None
    return session.get(User, cost_center.owner_id)


def direct_reports(*, session: Session, manager_id: int) -> list[int]:
    """Ids of the people who report to ``manager_id`` directly."""
    return list(session.scalars(select(User.id).where(User.manager_id == manager_id)))
