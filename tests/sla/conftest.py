"""SLA test kit: calendars and policies through the service, and incidents whose event log is
written event by event at explicit instants (the way the incident service and imports write it).
"""

import itertools
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.events import service as events_service
from operational.events.models import Event
from operational.incidents.models import Incident
from operational.sla import service as sla_service
from operational.sla import timers as sla_timers
from operational.sla.models import SlaCalendar, SlaPolicy, SlaTimer
from operational.sla.schemas import CalendarCreate, PolicyCreate

WHOLE_WEEK = {
    day: ["00:00-24:00"]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
OFFICE_HOURS = {
    day: ["09:00-17:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}

_numbers = itertools.count(1)


class SlaKit:
    def __init__(self, session: Session, factory):
        self.session = session
        self.factory = factory
        self.agent = factory.user(roles=("agent",))
        self.requester = factory.user(roles=("requester",))

    # --- configuration

    def calendar(
        self, *, timezone: str = "UTC", weekly_hours: dict | None = None, **fields: Any
    ) -> SlaCalendar:
        data = CalendarCreate(
            name=fields.pop("name", f"calendar {next(_numbers)}"),
            timezone=timezone,
            weekly_hours=weekly_hours or WHOLE_WEEK,
            **fields,
        )
        return sla_service.create_calendar(session=self.session, data=data)

    def policy(
        self,
        *,
        response: int = 60,
        resolution: int = 480,
        calendar: SlaCalendar | None = None,
        **fields: Any,
    ) -> SlaPolicy:
        data = PolicyCreate(
            name=fields.pop("name", f"policy {next(_numbers)}"),
            calendar_id=(calendar or self.calendar()).id,
            response_minutes=response,
            resolution_minutes=resolution,
            **fields,
        )
        return sla_service.create_policy(session=self.session, data=data, actor=None)

    # --- incidents and their history

    def incident(
        self,
        *,
        opened_at: datetime,
        priority: int = 3,
        service: str | None = None,
        category: str | None = None,
        source_system: str = "native",
    ) -> Incident:
        number = next(_numbers)
        incident = Incident(
            number=f"SLA{number:07d}",
            title=f"Test incident {number}",
            requester_id=self.requester.id,
            impact=2,
            urgency=2,
            priority=priority,
            service=service,
            category=category,
            state="new",
            opened_at=opened_at,
            source_system=source_system,
            external_id=None if source_system == "native" else f"EXT{number}",
        )
        self.session.add(incident)
        self.session.flush()
        self.event(incident, opened_at, "created", new=incident.number, actor=self.requester)
        return incident

    def event(
        self,
        incident: Incident,
        at: datetime,
        kind: str,
        *,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        actor: User | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        if incident.source_system == "native":
            return events_service.append(
                session=self.session,
                entity_type="incident",
                entity_id=incident.id,
                kind=kind,
                actor=actor,
                field=field,
                old_value=old,
                new_value=new,
                data=data,
                occurred_at=at,
            )
        # Imported history: the loader writes events with the source's name.
        events_service.append_many(
            session=self.session,
            events=[
                {
                    "entity_type": "incident",
                    "entity_id": incident.id,
                    "kind": kind,
                    "occurred_at": at,
                    "actor_id": actor.id if actor else None,
                    "actor_label": actor.display_name if actor else None,
                    "field": field,
                    "old_value": old,
                    "new_value": new,
                    "data": data,
                    "source_system": incident.source_system,
                }
            ],
        )
        return self.session.scalars(
            select(Event)
            .where(Event.entity_type == "incident", Event.entity_id == incident.id)
            .order_by(Event.seq.desc())
            .limit(1)
        ).one()

    def move(
        self,
        incident: Incident,
        at: datetime,
        state: str,
        *,
        hold_reason: str | None = None,
        first_response: bool = False,
    ) -> None:
        """A state change as the incident service records it (hold reason as its own event)."""
        old = incident.state
        data = {"hold_reason": hold_reason} if hold_reason else {}
        if first_response:
            data["first_response"] = True
        self.event(
            incident,
            at,
            "state_changed",
            field="state",
            old=old,
            new=state,
            actor=self.agent,
            data=data or None,
        )
        if old == "on_hold":
            self.event(incident, at, "field_changed", field="hold_reason", old=incident.hold_reason)
        if state == "on_hold":
            self.event(incident, at, "field_changed", field="hold_reason", new=hold_reason)
        incident.state = state
        incident.hold_reason = hold_reason if state == "on_hold" else None
        self.session.flush()

    def set_priority(self, incident: Incident, at: datetime, priority: int) -> None:
        self.event(
            incident,
            at,
            "priority_changed",
            field="priority",
            old=incident.priority,
            new=priority,
            actor=self.agent,
        )
        incident.priority = priority
        self.session.flush()

    def recompute(self, incident: Incident, now: datetime) -> dict[str, SlaTimer]:
        timers = sla_timers.recompute_timers(session=self.session, incident=incident, now=now)
        return {timer.target: timer for timer in timers}

    def sla_events(self, incident: Incident, kind: str | None = None) -> list[Event]:
        statement = (
            select(Event)
            .where(
                Event.entity_type == "incident",
                Event.entity_id == incident.id,
                Event.kind.like("sla_%"),
            )
            .order_by(Event.seq)
        )
        if kind:
            statement = statement.where(Event.kind == kind)
        return list(self.session.scalars(statement))


@pytest.fixture
def sla(session: Session, factory) -> SlaKit:
    """The kit, with the seeded default policies switched off so each test states its own."""
    session.execute(update(SlaPolicy).values(is_active=False))
    return SlaKit(session, factory)
