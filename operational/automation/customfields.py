"""How a rule's ``set_fields`` action writes a custom field (``cf.<name>``).

Custom fields live in a JSONB column ``custom_fields`` (name → value) on incidents and changes,
owned by the custom fields domain. Until its service is wired in, ``writer`` sets the value on
the record and appends the field's event itself; point ``writer`` at the custom fields service
(``install``) so that its validation applies and it stays the one writer."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.core.errors import UnprocessableEntity
from operational.events import service as events
from operational.events.enums import EventKind

# (session, record_type, record, name, value, now) -> whether the value changed
Writer = Callable[..., bool]


def write_directly(
    session: Session, *, record_type: str, record: Any, name: str, value: Any, now: datetime
) -> bool:
    if not hasattr(type(record), "custom_fields"):
        raise UnprocessableEntity(
            f"{record_type}s have no custom fields (yet): cannot set cf.{name}", field=f"cf.{name}"
        )
    values = dict(record.custom_fields or {})
    old = values.get(name)
    if old == value:
        return False
    values[name] = value
    record.custom_fields = values
    events.append(
        session=session,
        entity_type=record_type,
        entity_id=record.id,
        kind=EventKind.field_changed,
        actor=None,
        field=f"cf.{name}",
        old_value=old,
        new_value=value,
        occurred_at=now,
    )
    return True


writer: Writer = write_directly


def install(custom_field_writer: Writer) -> None:
    global writer
    writer = custom_field_writer


def write(
    session: Session, *, record_type: str, record: Any, name: str, value: Any, now: datetime
) -> bool:
    return writer(session, record_type=record_type, record=record, name=name, value=value, now=now)
