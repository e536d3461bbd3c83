"""Blackout windows (periods, possibly recurring, when changes must not run) and the change
calendar, which shows them beside the scheduled changes.

Kept apart from templates.py (see there why); collisions.py checks a change's window against
these windows.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.changes import collisions, records, recurrence
from operational.changes.enums import CALENDAR_STATES
from operational.changes.exceptions import BlackoutNotFound
from operational.changes.models import BlackoutWindow, Change
from operational.changes.schemas import BlackoutCreate, BlackoutUpdate
from operational.core.errors import BadRequest, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events.enums import EntityType

MAX_CALENDAR_DAYS = 400
BLACKOUT_SORTABLE = {
    "name": BlackoutWindow.name,
    "starts_at": BlackoutWindow.starts_at,
    "created_at": BlackoutWindow.created_at,
}


def get_blackout(*, session: Session, window_id: int) -> BlackoutWindow:
    window = session.get(BlackoutWindow, window_id)
    if window is None:
        raise BlackoutNotFound(f"There is no blackout window {window_id}")
    return window


def list_blackouts(
    *, session: Session, params: PageParams, active: bool | None = None
) -> Page[Any]:
    statement = select(BlackoutWindow)
    if active is not None:
        statement = statement.where(BlackoutWindow.is_active == active)
    return paginate(
        session,
        statement,
        params,
        sortable=BLACKOUT_SORTABLE,
        default_sort=[BlackoutWindow.starts_at, BlackoutWindow.id],
    )


def create_blackout(*, session: Session, data: BlackoutCreate, actor: User) -> BlackoutWindow:
    fields = data.model_dump()
    fields["rrule"] = recurrence.check(
        rule=data.rrule, starts_at=data.starts_at, timezone=data.timezone
    )
    fields["environment"] = data.environment.value if data.environment else None
    window = BlackoutWindow(**fields, created_by_id=actor.id)
    session.add(window)
    session.flush()
    session.refresh(window)
    _record(session, window, actor, None, records.snapshot(window))
    return window


def _record(
    session: Session,
    window: BlackoutWindow,
    actor: User | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    records.record_config(
        session=session,
        entity_type=EntityType.blackout_window,
        entity_id=window.id,
        label=window.name,
        actor=actor,
        before=before,
        after=after,
    )


def update_blackout(
    *, session: Session, window: BlackoutWindow, data: BlackoutUpdate, actor: User | None = None
) -> BlackoutWindow:
    before = records.snapshot(window)
    given = data.model_dump(exclude_unset=True)
    for field in ("name", "starts_at", "ends_at", "timezone", "is_active"):
        if field in given and given[field] is None:
            raise UnprocessableEntity(f"{field} cannot be null", field=field)
    starts_at = given.get("starts_at", window.starts_at)
    ends_at = given.get("ends_at", window.ends_at)
    if ends_at <= starts_at:
        raise UnprocessableEntity("ends_at must be after starts_at")
    timezone = given.get("timezone", window.timezone)
    rule = given.get("rrule", window.rrule)
    given["rrule"] = recurrence.check(rule=rule, starts_at=starts_at, timezone=timezone)
    if "environment" in given and given["environment"] is not None:
        given["environment"] = given["environment"].value
    for field, value in given.items():
        setattr(window, field, value)
    window.updated_at = records.now()
    session.flush()
    _record(session, window, actor, before, records.snapshot(window))
    return window


def delete_blackout(*, session: Session, window: BlackoutWindow, actor: User | None = None) -> None:
    before = records.snapshot(window)
    session.delete(window)
    session.flush()
    _record(session, window, actor, before, None)


def calendar(
    *,
    session: Session,
    starts_at: datetime,
    ends_at: datetime,
    states: Sequence[str] = (),
) -> tuple[list[Change], list[dict[str, Any]]]:
    """Changes whose planned window overlaps [starts_at, ends_at) — by default every change
    that was scheduled — and the blackout occurrences in that range."""
    if ends_at <= starts_at:
        raise BadRequest("'to' must be after 'from'")
    if ends_at - starts_at > timedelta(days=MAX_CALENDAR_DAYS):
        raise BadRequest(f"The calendar shows at most {MAX_CALENDAR_DAYS} days at a time")
    wanted = list(states) or [state.value for state in CALENDAR_STATES]
    changes = session.scalars(
        select(Change)
        .where(
            Change.state.in_(wanted),
            Change.planned_start < ends_at,
            Change.planned_end > starts_at,
        )
        .order_by(Change.planned_start, Change.id)
    ).all()
    blackouts = collisions.blackout_occurrences(
        session=session, starts_at=starts_at, ends_at=ends_at
    )
    return list(changes), blackouts
