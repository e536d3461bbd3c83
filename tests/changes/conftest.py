"""Factories for change tests: people by role, CIs, templates and changes moved through the
service. Times are fixed in 2030 so that calendars and windows are hand-checkable."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.changes import blackouts, cab, flows, service, templates
from operational.changes.models import BlackoutWindow, Change, ChangeTemplate
from operational.changes.schemas import (
    BlackoutCreate,
    ChangeCreate,
    DecisionCreate,
    ReviewCreate,
    TemplateCreate,
)
from operational.cmdb.models import ConfigurationItem
from tests.cmdb.conftest import CmdbFactory, cmdb  # noqa: F401 (fixtures)

MONDAY = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)

COMPLETE_PLANS = {
    "description": "Apply the vendor's security patch",
    "justification": "Closes CVE-2030-0001",
    "implementation_plan": "Drain, patch, restart, undrain",
    "backout_plan": "Reinstall the previous package",
    "test_plan": "Smoke tests of the login page",
}


class ChangeFactory:
    def __init__(self, session: Session, factory: Any, cmdb_factory: CmdbFactory):
        self.session = session
        self.factory = factory
        self.cmdb = cmdb_factory

    def agent(self, **fields: Any) -> User:
        return self.factory.user(roles=("agent",), **fields)

    def manager(self, **fields: Any) -> User:
        return self.factory.user(roles=("manager",), **fields)

    def admin(self, **fields: Any) -> User:
        return self.factory.user(roles=("admin",), **fields)

    def ci(self, name: str | None = None, **fields: Any) -> ConfigurationItem:
        return self.cmdb.ci(name, **fields)

    def change(
        self,
        *,
        actor: User | None = None,
        change_type: str = "normal",
        cis: tuple[ConfigurationItem, ...] | list[ConfigurationItem] = (),
        start: datetime = MONDAY,
        hours: float = 2,
        **fields: Any,
    ) -> Change:
        """A change with complete plans and a window of ``hours`` from ``start``."""
        actor = actor or self.agent()
        if change_type != "standard":
            for key, value in COMPLETE_PLANS.items():
                fields.setdefault(key, value)
            fields.setdefault("title", "Patch the web servers")
        data = ChangeCreate(
            change_type=change_type,
            ci_ids=[ci.id for ci in cis],
            planned_start=start,
            planned_end=start + timedelta(hours=hours),
            **fields,
        )
        return service.create(session=self.session, data=data, actor=actor)

    def move(self, change: Change, *states: str, actor: User | None = None) -> Change:
        actor = actor or self.agent()
        for state in states:
            change = service.transition(
                session=self.session,
                change_id=change.id,
                target=state,
                expected_version=change.version,
                actor=actor,
            )
        return change

    def decide(self, change: Change, approver: User, decision: str = "approved") -> Change:
        return cab.decide(
            session=self.session,
            change_id=change.id,
            data=DecisionCreate(decision=decision, comment=f"{decision} by {approver.id}"),
            actor=approver,
        )

    def approved(self, change: Change, *approvers: User) -> Change:
        """Through assess and a CAB round that ``approvers`` (two new managers) approve."""
        change = self.move(change, "assess", "authorize")
        for approver in approvers or (self.manager(), self.manager()):
            change = self.decide(change, approver)
        return change

    def scheduled(self, change: Change) -> Change:
        return self.move(self.approved(change), "scheduled")

    def review(self, change: Change, actor: User | None = None, **fields: Any) -> Change:
        fields.setdefault("outcome", "successful")
        fields.setdefault("caused_incidents", False)
        fields.setdefault("notes", "Went to plan")
        return flows.record_review(
            session=self.session,
            change_id=change.id,
            data=ReviewCreate(**fields),
            expected_version=change.version,
            actor=actor or self.agent(),
        )

    def template(self, actor: User | None = None, **fields: Any) -> ChangeTemplate:
        fields.setdefault("name", f"Restart app pool {self.factory._next()}")
        fields.setdefault("title", "Restart the application pool")
        fields.setdefault("implementation_plan", "Recycle the pool from the console")
        fields.setdefault("backout_plan", "None needed: the pool restarts itself")
        fields.setdefault("test_plan", "Load the home page")
        fields.setdefault(
            "risk_answers",
            {
                "done_before": True,
                "backout_tested": True,
                "service_outage": False,
                "tested_outside_production": True,
            },
        )
        return templates.create_template(
            session=self.session, data=TemplateCreate(**fields), actor=actor or self.manager()
        )

    def blackout(self, **fields: Any) -> BlackoutWindow:
        fields.setdefault("name", "Quarter-end freeze")
        return blackouts.create_blackout(
            session=self.session, data=BlackoutCreate(**fields), actor=self.admin()
        )


@pytest.fixture
def changes(session: Session, factory, cmdb) -> ChangeFactory:  # noqa: F811
    return ChangeFactory(session, factory, cmdb)
