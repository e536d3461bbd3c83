"""After-change hooks: how the flows of the ticket domains (incidents, changes, requests,
problems) tell the layer above them (the automation rules, ``operational.automation``) what just
happened to a record, in the same transaction, without importing it.

The flows publish a ``RecordChange`` once their change is applied (and before the request
commits); the application installs the listener at start-up (``operational/main.py``,
``operational/worker.py``). With no listener installed (a script), publishing does nothing.

Before a new incident that names no team is announced, its flow asks the router (``route``,
installed with the listener) who gets it: the automation rules of the ``route`` trigger, which
the assignment-rule API manages too (docs/automation.md, "Assignment rules").
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect


class Trigger:
    """What happened to the record (the values a rule's trigger names)."""

    created = "created"
    updated = "updated"
    commented = "commented"
    state_changed = "state_changed"
    sla_warning = "sla_warning"
    sla_breached = "sla_breached"
    schedule = "schedule"
    route = "route"  # a new record that names no team, before ``created``: who gets it


@dataclass
class RecordChange:
    """One change to one record: its type (``incident``, ``change``, ``problem``, ``request``),
    the record, what happened, and the fields that changed (``{name: (old, new)}``, custom
    fields as ``cf.<name>``)."""

    record_type: str
    record: Any
    trigger: str
    now: datetime
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    actor: Any = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Routed:
    """What routing did: the rule that matched, and whether it changed the assignment."""

    rule: Any
    changed: bool


# (session, change) -> None
Listener = Callable[[Any, RecordChange], None]
_listeners: list[Listener] = []
# (session, change) -> what routed the record, or None when no rule matched
Router = Callable[[Any, RecordChange], Routed | None]
_routers: list[Router] = []

# Bookkeeping columns that change on every write: never a "change" a rule reacts to.
_NOT_CHANGES = frozenset({"version", "updated_at", "created_at", "search_vector"})


def install(listener: Listener, *, router: Router | None = None) -> None:
    """Install the listener and the router (again: replaces them)."""
    _listeners[:] = [listener]
    _routers[:] = [router] if router is not None else []


def uninstall() -> None:
    _listeners.clear()
    _routers.clear()


def installed() -> bool:
    return bool(_listeners)


def custom_fields_of(record: Any) -> Mapping[str, Any]:
    """The record's custom field values (name → value); empty before custom fields exist."""
    return getattr(record, "custom_fields", None) or {}


def snapshot(record: Any) -> dict[str, Any]:
    """The record's field values now (custom fields as ``cf.<name>``), to diff against later.
    A loaded record costs no query; an expired one (after a rolled-back savepoint) is reloaded,
    so that what it did not change never reads as changed."""
    values = {
        attribute.key: getattr(record, attribute.key)
        for attribute in inspect(record).mapper.column_attrs
        if attribute.key not in _NOT_CHANGES and not attribute.deferred
    }
    values.pop("custom_fields", None)
    for name, value in custom_fields_of(record).items():
        values[f"cf.{name}"] = value
    return values


def _comparable(value: Any) -> Any:
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{name: (old, new)}`` of the fields whose values differ."""
    return {
        name: (before.get(name), after.get(name))
        for name in sorted({*before, *after})
        if _comparable(before.get(name)) != _comparable(after.get(name))
    }


def route(session: Any, change: RecordChange) -> Routed | None:
    """Let the layer above route a record (its route rules: the first that matches assigns it,
    in this transaction); None when no rule matched or no router is installed."""
    return _routers[0](session, change) if _routers else None


def publish(session: Any, change: RecordChange) -> None:
    for listener in list(_listeners):
        listener(session, change)


def publish_change(
    session: Any,
    *,
    record_type: str,
    record: Any,
    before: Mapping[str, Any] | None,
    now: datetime,
    actor: Any = None,
) -> None:
    """Publish a creation (``before`` None) or an update: ``updated`` when any field changed,
    and ``state_changed`` too when the state did."""
    if not _listeners:
        return
    if before is None:
        publish(
            session,
            RecordChange(
                record_type=record_type,
                record=record,
                trigger=Trigger.created,
                now=now,
                actor=actor,
            ),
        )
        return
    changes = diff(before, snapshot(record))
    if not changes:
        return
    publish(
        session,
        RecordChange(
            record_type=record_type,
            record=record,
            trigger=Trigger.updated,
            now=now,
            changes=changes,
            actor=actor,
        ),
    )
