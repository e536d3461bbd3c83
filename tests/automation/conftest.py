"""Automation kit: rules made through the service, incidents through the incident flows (the
root conftest installs the engine as the application does)."""

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth.models import Team, User
from operational.automation import service
from operational.automation.models import AutomationRule, AutomationRun
from operational.automation.schemas import RuleCreate
from operational.events.models import Event
from operational.incidents import flows as incident_flows
from operational.incidents.models import Incident, IncidentComment
from operational.incidents.schemas import IncidentCreate, IncidentUpdate
from operational.notifications.models import OutboxMessage
from tests.changes.conftest import changes  # noqa: F401 (fixture)
from tests.cmdb.conftest import cmdb  # noqa: F401 (fixture)
from tests.incidents.conftest import settings_env  # noqa: F401 (fixture)
from tests.sla.conftest import sla  # noqa: F401 (fixture)


class AutomationKit:
    def __init__(self, session: Session, factory: Any):
        self.session = session
        self.factory = factory
        self.admin = factory.user(roles=("admin",))
        self.agent = factory.user(roles=("agent",))

    def team(self, *, members: int = 0, **fields: Any) -> tuple[Team, list[User]]:
        team = self.factory.team(**fields)
        people = [self.factory.user(roles=("agent",), teams=(team,)) for _ in range(members)]
        return team, people

    def rule(self, **fields: Any) -> AutomationRule:
        fields.setdefault("name", f"rule {self.factory._next()}")
        fields.setdefault("record_type", "incident")
        return service.create(session=self.session, data=RuleCreate(**fields), actor=self.admin)

    def incident(self, *, now: datetime | None = None, **fields: Any) -> Incident:
        fields.setdefault("title", "VPN down in Rotterdam")
        return incident_flows.create(
            session=self.session, data=IncidentCreate(**fields), actor=self.agent, now=now
        ).incident

    def update(self, incident: Incident, *, now: datetime | None = None, **fields: Any) -> Incident:
        return incident_flows.update(
            session=self.session,
            incident=incident,
            data=IncidentUpdate(**fields),
            actor=self.agent,
            expected_version=incident.version,
            now=now,
        ).incident

    def runs(self, rule: AutomationRule, outcome: str | None = None) -> list[AutomationRun]:
        statement = select(AutomationRun).where(AutomationRun.rule_id == rule.id)
        if outcome:
            statement = statement.where(AutomationRun.outcome == outcome)
        return list(self.session.scalars(statement.order_by(AutomationRun.id)))

    def events(self, incident: Incident, **where: Any) -> list[Event]:
        statement = select(Event).where(
            Event.entity_type == "incident", Event.entity_id == incident.id
        )
        for key, value in where.items():
            statement = statement.where(getattr(Event, key) == value)
        return list(self.session.scalars(statement.order_by(Event.seq)))

    def comments(self, incident: Incident) -> list[IncidentComment]:
        return list(
            self.session.scalars(
                select(IncidentComment)
                .where(IncidentComment.incident_id == incident.id)
                .order_by(IncidentComment.id)
            )
        )

    def outbox(self, event_type: str = "automation.notice") -> list[OutboxMessage]:
        return list(
            self.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.event_type == event_type)
                .order_by(OutboxMessage.id)
            )
        )


@pytest.fixture
def auto(session: Session, factory) -> AutomationKit:
    return AutomationKit(session, factory)
