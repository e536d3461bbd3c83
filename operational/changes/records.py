"""The change row at its lowest level: fetch it, mark it edited, append to its event log.

The change record (service), the CAB (cab) and the workflow that opens CAB rounds all build on
these; keeping them below every other module of the package lets service import cab without
cab importing service back.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.changes.exceptions import ChangeNotFound
from operational.changes.models import Change
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event


def now() -> datetime:
    return datetime.now(UTC)


def get(*, session: Session, change_id: int, for_update: bool = False) -> Change:
    statement = select(Change).where(Change.id == change_id)
    if for_update:
        statement = statement.with_for_update(of=Change)
    change = session.scalar(statement)
    if change is None:
        raise ChangeNotFound(f"There is no change {change_id}", change_id=change_id)
    return change


# CAB rules are keyed by change type; their event log uses these ids.
CAB_RULE_IDS = {"normal": 1, "emergency": 2}


def snapshot(row: Any) -> dict[str, Any]:
    return events.snapshot(row)


def record_config(
    *,
    session: Session,
    entity_type: EntityType,
    entity_id: int,
    label: str,
    actor: User | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """A configuration change (CAB rule, template, blackout window) as an event of the record's
    log, with who, when and the values before and after."""
    events.record_change(
        session=session,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        before=before,
        after=after,
        label=label,
    )


def touch(change: Change) -> None:
    change.version += 1
    change.updated_at = now()


def append_event(
    session: Session,
    change: Change,
    kind: EventKind,
    actor: User | None,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    return events.append(
        session=session,
        entity_type=EntityType.change,
        entity_id=change.id,
        kind=kind,
        actor=actor,
        field=field,
        old_value=old,
        new_value=new,
        data=data,
        occurred_at=occurred_at,
    )
