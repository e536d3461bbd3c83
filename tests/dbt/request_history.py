"""A small history of service requests, made through the request flows with real commits, for
the request marts' tests and the dashboards' (figures in tests/dbt/test_request_marts.py).

March 2026, UTC, on the 24x7 calendar. Rita orders:
- R1, a laptop (1,200: the finance stage runs) on 2 March 09:00; her manager Bob approves at
  10:00 (60 min), the cost-centre owner Cora at 12:00 (120 min); delivered 3 March 12:00: 1,620
  minutes, of which 180 approval wait and 1,440 fulfilment; target 2,400: met. Rated 5 stars.
- R2, a mouse (no approval) on 3 March 09:00, delivered 4 March 09:00: 1,440 minutes against a
  target of 480: breached at 17:00.
- R3, a laptop on 4 March 09:00, rejected by Bob at 13:00 (240 min), "not in budget".
Phase two: R4, a mouse on 10 March 09:00, waits for Rita from 10:00 to 12:00, delivered 13:00:
240 calendar minutes, 120 business minutes on the clock (the wait paused it): met.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from operational.auth import reporting
from operational.auth.models import User
from operational.auth.schemas import CostCenterCreate, ReportingLineWrite
from operational.requests import approvals, catalog, csat, flows
from operational.requests.models import CatalogItem, RequestItem, RequestTask
from operational.requests.schemas import (
    CatalogItemCreate,
    CategoryCreate,
    RequestCreate,
    RequestItemUpdate,
    TaskUpdate,
)
from tests.factories import Factory


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


class RequestHistory:
    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=pool.NullPool)

    def _people(self, session: Session) -> dict[str, Any]:
        factory = Factory(session)
        desk = factory.team(name="Hardware desk")
        alice = factory.user(roles=("agent",), display_name="Alice Agent", teams=(desk,))
        # Managers in the reporting line, plain requesters by role: anyone may approve, and
        # the dashboards' access review counts only privileged roles.
        bob = factory.user(roles=("requester",), display_name="Bob Boss")
        cora = factory.user(roles=("requester",), display_name="Cora CFO")
        rita = factory.user(roles=("requester",), display_name="Rita Requester")
        finance = reporting.create_cost_center(
            session=session,
            data=CostCenterCreate(code="FIN", name="Finance", owner_id=cora.id),
            actor=None,
        )
        reporting.set_reporting_line(
            session=session,
            user=rita,
            data=ReportingLineWrite(manager_id=bob.id, cost_center_id=finance.id),
            actor=None,
        )
        hardware = catalog.create_category(session=session, data=CategoryCreate(name="Hardware"))
        common = {"category_id": hardware.id, "fulfilment_team_id": desk.id}
        laptop = catalog.create_item(
            session=session,
            data=CatalogItemCreate(
                name="Laptop",
                price=Decimal("1200.00"),
                delivery_minutes=2400,
                approval_policy={
                    "stages": [
                        {"name": "Manager", "approvers": "manager"},
                        {
                            "name": "Finance",
                            "approvers": "cost_center_owner",
                            "condition": {"field": "cost", "op": "gt", "value": 1000},
                        },
                    ]
                },
                **common,
            ),
            actor=None,
            now=at(1, 9),
        )
        mouse = catalog.create_item(
            session=session,
            data=CatalogItemCreate(
                name="Mouse", price=Decimal("20.00"), delivery_minutes=480, **common
            ),
            actor=None,
            now=at(1, 9),
        )
        return {
            "alice": alice,
            "bob": bob,
            "cora": cora,
            "rita": rita,
            "laptop": laptop,
            "mouse": mouse,
        }

    def _order(self, session, people, item, now) -> RequestItem:
        return flows.order(
            session=session,
            data=RequestCreate(items=[{"catalog_item_id": item.id}]),
            actor=people["rita"],
            now=now,
        ).request.items[0]

    def _decide(self, session, item, approver, now, approve=True, comment=None):
        pending = {
            a.approver_id: a
            for stage in approvals.stages_of(session=session, item_id=item.id)
            for a in stage.approvals
            if a.state == "pending"
        }
        return flows.decide(
            session=session,
            approval=pending[approver.id],
            actor=approver,
            approve=approve,
            comment=comment,
            now=now,
        )

    def _close_task(self, session, item, agent, now):
        task = session.query(RequestTask).filter_by(request_item_id=item.id).one()
        return flows.update_task(
            session=session,
            task=task,
            data=TaskUpdate(state="closed", close_notes="delivered"),
            actor=agent,
            expected_version=task.version,
            now=now,
        )

    def phase_one(self) -> None:
        with Session(self.engine) as session:
            people = self._people(session)
            r1 = self._order(session, people, people["laptop"], at(2, 9))
            self._decide(session, r1, people["bob"], at(2, 10))
            self._decide(session, r1, people["cora"], at(2, 12))
            _, invitation = self._close_task(session, r1, people["alice"], at(3, 12))
            csat.answer(
                session=session, token=invitation.token, rating=5, comment=None, now=at(3, 13)
            )
            r2 = self._order(session, people, people["mouse"], at(3, 9))
            self._close_task(session, r2, people["alice"], at(4, 9))
            r3 = self._order(session, people, people["laptop"], at(4, 9))
            self._decide(
                session, r3, people["bob"], at(4, 13), approve=False, comment="not in budget"
            )
            session.commit()

    def phase_two(self) -> None:
        with Session(self.engine) as session:
            rita = session.query(User).filter_by(display_name="Rita Requester").one()
            alice = session.query(User).filter_by(display_name="Alice Agent").one()
            mouse = session.query(CatalogItem).filter_by(name="Mouse").one()
            r4 = self._order(session, {"rita": rita}, mouse, at(10, 9))
            flows.update_item(
                session=session,
                item=r4,
                data=RequestItemUpdate(state="awaiting_requester", reason="which hand?"),
                actor=alice,
                expected_version=r4.version,
                now=at(10, 10),
            )
            flows.reply(session=session, item=r4, actor=rita, comment="left", now=at(10, 12))
            self._close_task(session, r4, alice, datetime(2026, 3, 10, 13, tzinfo=UTC))
            session.commit()

    def dispose(self) -> None:
        self.engine.dispose()
