"""Factories for incident tests: people, teams, rules and incidents made through the flows."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational.auth.models import Team, TeamMember, User
from operational.automation import assignment_rules
from operational.automation.models import AutomationRule
from operational.automation.schemas import AssignmentRuleCreate
from operational.core.config import get_settings
from operational.events.models import Event
from operational.incidents import flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate


class IncidentFactory:
    def __init__(self, session: Session, factory: Any):
        self.session = session
        self.factory = factory

    def agent(self, *, teams: tuple[Team, ...] = (), **fields: Any) -> User:
        return self.factory.user(roles=("agent",), teams=teams, **fields)

    def requester(self, **fields: Any) -> User:
        return self.factory.user(roles=("requester",), **fields)

    def define_site_and_cost(self) -> None:
        """Custom fields ``site`` (text, requesters see it) and ``cost`` (decimal, they do not)."""
        from operational.customfields import service as custom_fields
        from operational.customfields.schemas import DefinitionCreate

        admin = self.factory.user(roles=("admin",))
        for name, kind, visible in (("site", "text", True), ("cost", "decimal", False)):
            custom_fields.create_definition(
                session=self.session,
                data=DefinitionCreate(
                    record_type="incident",
                    name=name,
                    label=name.title(),
                    type=kind,
                    requester_visible=visible,
                ),
                actor=admin,
            )

    def with_site_and_cost(self, incident_id: int, site: str, cost: float) -> None:
        """``define_site_and_cost``, and those values stored on the incident."""
        self.define_site_and_cost()
        self.session.execute(
            update(Incident)
            .where(Incident.id == incident_id)
            .values(custom_fields={"site": site, "cost": cost})
        )
        self.session.flush()

    def team(self, *, strategy: str = "round_robin", **fields: Any) -> Team:
        return self.factory.team(assignment_strategy=strategy, **fields)

    def set_available(self, team: Team, user: User, available: bool) -> None:
        self.session.get(TeamMember, (team.id, user.id)).is_available = available
        self.session.flush()

    def rule(self, *, team: Team, name: str | None = None, **fields: Any) -> AutomationRule:
        """An assignment rule, made as its API makes it (a route rule of the engine)."""
        return assignment_rules.create_rule(
            session=self.session,
            data=AssignmentRuleCreate(
                name=name or f"rule {self.factory._next()}", team_id=team.id, **fields
            ),
            actor=self.factory.user(roles=("admin",)),
        )

    def incident(
        self, *, actor: User | None = None, now: datetime | None = None, **fields: Any
    ) -> Incident:
        actor = actor or self.agent()
        fields.setdefault("title", "Printer on floor 3 jams")
        return flows.create(
            session=self.session, data=IncidentCreate(**fields), actor=actor, now=now
        ).incident

    def resolved(self, *, actor: User, now: datetime | None = None, **fields: Any) -> Incident:
        """An incident worked by ``actor`` and resolved at ``now``."""
        incident = self.incident(actor=actor, assignee_id=actor.id, now=now, **fields)
        return flows.transition(
            session=self.session,
            incident=incident,
            actor=actor,
            state="resolved",
            resolution_code="solved_permanently",
            resolution_notes="Replaced the fuser",
            now=now,
        ).incident

    def events(self, incident: Incident, *, sla: bool = False) -> list[Event]:
        """The incident's events in order; the SLA engine's own (sla_*) only when asked."""
        statement = (
            select(Event)
            .where(Event.entity_type == "incident", Event.entity_id == incident.id)
            .order_by(Event.seq)
        )
        if not sla:
            statement = statement.where(Event.kind.not_like("sla%"))
        return list(self.session.scalars(statement))


@pytest.fixture
def incidents(session: Session, factory: Any) -> IncidentFactory:
    return IncidentFactory(session, factory)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set ITSM_* variables for one test; Settings are re-read and restored afterwards."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"ITSM_{name.upper()}", value)
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()
