"""Request test kit: people with a reporting line, catalog items through the catalog service, and
orders, decisions and task moves through the request flows, each at an explicit instant."""

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth import reporting
from operational.auth.models import Team, TeamMember, User
from operational.auth.schemas import CostCenterCreate, ReportingLineWrite
from operational.events.models import Event
from operational.requests import approvals, catalog, flows
from operational.requests.models import Approval, CatalogItem, Request, RequestItem, RequestTask
from operational.requests.schemas import (
    CatalogItemCreate,
    CategoryCreate,
    RequestCreate,
    TaskUpdate,
)
from operational.sla import service as sla_service
from operational.sla.schemas import CalendarCreate

OFFICE_HOURS = {
    day: ["09:00-17:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}
# Monday 2 June 2025, 09:00 UTC: the start of a business week.
MONDAY = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
LAPTOP_FORM = {
    "type": "object",
    "properties": {
        "model": {"type": "string", "enum": ["standard", "developer"]},
        "storage_gb": {"type": "integer", "minimum": 256, "maximum": 4096},
        "needed_by": {"type": "string", "format": "date"},
        "deliver_to": {"type": "integer", "format": "user"},
    },
    "required": ["model", "needed_by"],
    "additionalProperties": False,
}

_numbers = itertools.count(1)


class RequestKit:
    def __init__(self, session: Session, factory: Any):
        self.session = session
        self.factory = factory
        self.admin = factory.user(roles=("admin",))
        self.category = catalog.create_category(
            session=session, data=CategoryCreate(name=f"Hardware {next(_numbers)}")
        )
        self.fulfillers = factory.team(name=f"Service desk {next(_numbers)}")
        self.agent = factory.user(roles=("agent",), teams=(self.fulfillers,))
        self.cfo = factory.user(roles=("manager",), display_name="Cora CFO")
        self.boss = factory.user(roles=("manager",), display_name="Bea Boss")
        self.finance = reporting.create_cost_center(
            session=session,
            data=CostCenterCreate(code=f"CC{next(_numbers)}", name="Finance", owner_id=self.cfo.id),
            actor=None,
        )
        self.requester = self.person(manager=self.boss)

    def person(
        self, *, manager: User | None = None, roles: tuple[str, ...] = ("requester",), **fields
    ) -> User:
        user = self.factory.user(roles=roles, **fields)
        reporting.set_reporting_line(
            session=self.session,
            user=user,
            data=ReportingLineWrite(
                manager_id=manager.id if manager else None, cost_center_id=self.finance.id
            ),
            actor=None,
        )
        return user

    def team(self, *members: User) -> Team:
        team = self.factory.team(name=f"Team {next(_numbers)}")
        for member in members:
            self.session.add(TeamMember(team_id=team.id, user_id=member.id))
        self.session.flush()
        self.session.refresh(team)
        return team

    def office_calendar(self):
        return sla_service.create_calendar(
            session=self.session,
            data=CalendarCreate(
                name=f"office {next(_numbers)}", timezone="UTC", weekly_hours=OFFICE_HOURS
            ),
        )

    def item(self, **fields: Any) -> CatalogItem:
        fields.setdefault("name", f"Laptop {next(_numbers)}")
        fields.setdefault("category_id", self.category.id)
        fields.setdefault("delivery_minutes", 3 * 8 * 60)
        fields.setdefault("fulfilment_team_id", self.fulfillers.id)
        fields.setdefault("form_schema", LAPTOP_FORM)
        return catalog.create_item(
            session=self.session, data=CatalogItemCreate(**fields), actor=self.admin
        )

    def order(
        self,
        item: CatalogItem,
        *,
        by: User | None = None,
        now: datetime = MONDAY,
        answers: dict | None = None,
        quantity: int = 1,
    ) -> RequestItem:
        answers = {"model": "standard", "needed_by": "2025-07-01"} if answers is None else answers
        request = flows.order(
            session=self.session,
            data=RequestCreate(
                items=[{"catalog_item_id": item.id, "quantity": quantity, "answers": answers}]
            ),
            actor=by or self.requester,
            now=now,
        ).request
        return request.items[0]

    def pending(self, item: RequestItem) -> dict[int, Approval]:
        """The item's pending approvals, by approver id."""
        return {
            approval.approver_id: approval
            for stage in approvals.stages_of(session=self.session, item_id=item.id)
            for approval in stage.approvals
            if approval.state == "pending"
        }

    def decide(
        self,
        item: RequestItem,
        approver: User,
        *,
        approve: bool = True,
        by: User | None = None,
        now: datetime = MONDAY,
        comment: str | None = None,
    ) -> Approval:
        approval = self.pending(item)[approver.id]
        decided, _ = flows.decide(
            session=self.session,
            approval=approval,
            actor=by or approver,
            approve=approve,
            comment=comment or (None if approve else "not in budget"),
            now=now,
        )
        return decided

    def tasks(self, item: RequestItem) -> list[RequestTask]:
        return list(
            self.session.scalars(
                select(RequestTask)
                .where(RequestTask.request_item_id == item.id)
                .order_by(RequestTask.position)
                .execution_options(populate_existing=True)
            ).unique()
        )

    def close_task(self, task: RequestTask, *, now: datetime = MONDAY) -> RequestTask:
        return flows.update_task(
            session=self.session,
            task=task,
            data=TaskUpdate(state="closed", close_notes="done"),
            actor=self.agent,
            expected_version=task.version,
            now=now,
        )[0]

    def events(self, item: RequestItem, kind: str | None = None) -> list[Event]:
        statement = select(Event).where(
            Event.entity_type == "request_item", Event.entity_id == item.id
        )
        if kind:
            statement = statement.where(Event.kind == kind)
        return list(self.session.scalars(statement.order_by(Event.seq)))

    def reload(self, record: Any) -> Any:
        self.session.refresh(record)
        return record

    def request_of(self, item: RequestItem) -> Request:
        return self.reload(item.request)


@pytest.fixture
def kit(session: Session, factory) -> RequestKit:
    return RequestKit(session, factory)


def stage(name: str, approvers: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "approvers": approvers, **fields}
