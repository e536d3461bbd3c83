"""A seeded year of service requests, made through the platform's own request flows.

`seed_requests(session=..., start=..., end=...)` adds, on top of the imported demo people and
teams: a reporting line (managers, four cost centres with owners), an office-hours calendar, a
catalog of 25 realistic items in 6 categories (forms, approval policies, fulfilment plans), and
about a hundred requests a month that go through approval (some rejected, some reminded) and
fulfilment (some waiting for the requester, some late), with satisfaction answers. Every step is
a real flow call at its own instant, so the history, the events and the delivery clocks are
exactly what the live service would have recorded. The same seed gives the same history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth import reporting
from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.schemas import CostCenterCreate, ReportingLineWrite
from operational.requests import approvals, catalog, csat, flows
from operational.requests.exceptions import NoApprover
from operational.requests.models import RequestItem, RequestTask
from operational.requests.schemas import (
    CatalogItemCreate,
    CategoryCreate,
    RequestCreate,
    RequestItemUpdate,
    TaskUpdate,
)
from operational.sla import service as sla_service
from operational.sla.schemas import CalendarCreate

CALENDAR = "Office hours (requests demo)"
OFFICE = {day: ["08:00-18:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
HOUR = 60
DAY = 10 * HOUR  # one business day of the office calendar

MANAGER = {"name": "Manager", "approvers": "manager", "reminder_minutes": DAY,
           "escalation_minutes": 3 * DAY}  # fmt: skip
FINANCE_OVER_1000 = {
    "name": "Finance",
    "approvers": "cost_center_owner",
    "condition": {"field": "cost", "op": "gt", "value": 1000},
    "reminder_minutes": DAY,
}


def _owners(team: str, rule: str = "one", quorum: int | None = None) -> dict[str, Any]:
    stage: dict[str, Any] = {"name": f"{team} owners", "approvers": "team", "team": team}
    stage["rule"] = rule
    if quorum:
        stage["quorum"] = quorum
    return stage


DATE = {"type": "string", "format": "date", "title": "Needed by"}
JUSTIFICATION = {"type": "string", "minLength": 10, "maxLength": 500, "title": "Why"}
PERSON = {"type": "integer", "format": "user", "title": "For whom"}


@dataclass(frozen=True)
class Item:
    category: str
    name: str
    price: str | None
    team: str
    delivery_hours: int  # business hours
    stages: tuple[dict[str, Any], ...] = ()
    tasks: tuple[tuple[str, str], ...] = ()  # (task, team)
    parallel: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    weight: float = 1.0


CATALOG: tuple[Item, ...] = (
    Item(
        "Hardware",
        "Standard laptop",
        "1150.00",
        "Workplace",
        30,
        (MANAGER, FINANCE_OVER_1000),
        (("Image and enrol", "Workplace"), ("Hand over", "Service Desk")),
        fields={
            "keyboard": {"type": "string", "enum": ["US", "UK", "DE", "NL"]},
            "needed_by": DATE,
        },
        required=("keyboard", "needed_by"),
        weight=4,
    ),
    Item(
        "Hardware",
        "Developer laptop",
        "2450.00",
        "Workplace",
        40,
        (MANAGER, FINANCE_OVER_1000),
        (
            ("Image and enrol", "Workplace"),
            ("Developer tooling", "Cloud Platform"),
            ("Hand over", "Service Desk"),
        ),
        fields={"memory_gb": {"type": "integer", "enum": [32, 64]}, "needed_by": DATE},
        required=("memory_gb", "needed_by"),
        weight=2,
    ),
    Item(
        "Hardware",
        "External monitor",
        "240.00",
        "Workplace",
        20,
        (MANAGER,),
        fields={"size": {"type": "string", "enum": ["24in", "27in", "32in"]}},
        required=("size",),
        weight=3,
    ),
    Item("Hardware", "Docking station", "180.00", "Workplace", 20, (), weight=2),
    Item("Hardware", "Headset", "95.00", "Service Desk", 10, (), weight=3),
    Item("Hardware", "Keyboard and mouse", "60.00", "Service Desk", 10, (), weight=3),
    Item(
        "Mobile",
        "Smartphone",
        "780.00",
        "Workplace",
        30,
        (MANAGER,),
        (("Enrol in MDM", "Workplace"), ("Hand over", "Service Desk")),
        fields={"model": {"type": "string", "enum": ["standard", "compact"]}},
        required=("model",),
        weight=2,
    ),
    Item("Mobile", "Mobile data plan upgrade", "25.00", "Workplace", 20, (MANAGER,), weight=1),
    Item(
        "Access",
        "Shared drive access",
        None,
        "Identity & Access",
        10,
        (MANAGER, _owners("Identity & Access")),
        fields={
            "share": {
                "type": "string",
                "pattern": "^\\\\\\\\[A-Za-z0-9_.-]+\\\\.+$",
                "title": "UNC path",
            },
            "access": {"type": "string", "enum": ["read", "write"]},
        },
        required=("share", "access"),
        weight=4,
    ),
    Item(
        "Access",
        "ERP finance role",
        None,
        "Business Applications",
        20,
        (MANAGER, _owners("Security", rule="all")),
        (("Grant role", "Business Applications"), ("Review segregation of duties", "Security")),
        parallel=True,
        fields={
            "role": {"type": "string", "enum": ["AP clerk", "AR clerk", "Controller"]},
            "justification": JUSTIFICATION,
        },
        required=("role", "justification"),
        weight=1,
    ),
    Item("Access", "CRM licence", "45.00", "Business Applications", 10, (MANAGER,), weight=2),
    Item("Access", "VPN access", None, "Network", 10, (MANAGER,), weight=2),
    Item(
        "Access",
        "Admin rights on my laptop",
        None,
        "Security",
        20,
        (MANAGER, _owners("Security", rule="quorum", quorum=2)),
        fields={"justification": JUSTIFICATION},
        required=("justification",),
        weight=1,
    ),
    Item(
        "Accounts",
        "New starter account",
        None,
        "Identity & Access",
        20,
        (MANAGER,),
        (("Create account", "Identity & Access"), ("Mailbox and licences", "Service Desk")),
        fields={"starter": {"type": "string", "minLength": 3, "title": "Name"}, "start_date": DATE},
        required=("starter", "start_date"),
        weight=2,
    ),
    Item(
        "Accounts",
        "Leaver account removal",
        None,
        "Identity & Access",
        10,
        (MANAGER,),
        fields={"leaver": PERSON, "last_day": DATE},
        required=("leaver", "last_day"),
        weight=1,
    ),
    Item("Accounts", "Distribution list", None, "Service Desk", 10, (), weight=1),
    Item("Software", "Visio licence", "180.00", "Business Applications", 10, (MANAGER,), weight=1),
    Item(
        "Software", "Adobe Acrobat Pro", "220.00", "Business Applications", 10, (MANAGER,), weight=2
    ),
    Item(
        "Software",
        "Standard software install",
        None,
        "Service Desk",
        10,
        (),
        fields={"package": {"type": "string", "minLength": 2}},
        required=("package",),
        weight=3,
    ),
    Item(
        "Software",
        "Statistics package licence",
        "1450.00",
        "Business Applications",
        20,
        (MANAGER, FINANCE_OVER_1000),
        weight=1,
    ),
    Item(
        "Workplace",
        "Desk move",
        None,
        "Workplace",
        30,
        (MANAGER,),
        (("Move equipment", "Workplace"), ("Patch network port", "Network")),
        parallel=True,
        fields={"new_desk": {"type": "string", "minLength": 2}},
        required=("new_desk",),
        weight=1,
    ),
    Item(
        "Workplace",
        "Meeting room screen",
        "1350.00",
        "Workplace",
        50,
        (MANAGER, FINANCE_OVER_1000),
        weight=1,
    ),
    Item("Workplace", "Printer toner", "70.00", "Service Desk", 10, (), weight=2),
    Item(
        "Cloud",
        "Cloud sandbox subscription",
        "300.00",
        "Cloud Platform",
        20,
        (MANAGER, FINANCE_OVER_1000),
        fields={"monthly_budget": {"type": "integer", "minimum": 50, "maximum": 5000}},
        required=("monthly_budget",),
        weight=1,
    ),
    Item(
        "Cloud",
        "Database instance",
        "900.00",
        "Database",
        40,
        (MANAGER, FINANCE_OVER_1000, _owners("Cloud Platform")),
        (("Provision", "Database"), ("Backups and monitoring", "Cloud Platform")),
        fields={
            "engine": {"type": "string", "enum": ["PostgreSQL", "SQL Server"]},
            "size_gb": {"type": "integer", "minimum": 10, "maximum": 2000},
        },
        required=("engine", "size_gb"),
        weight=1,
    ),
)
REJECTIONS = (
    "Not in this year's budget.",
    "You have one already; reuse it.",
    "Please ask for read access first.",
    "Segregation of duties does not allow it.",
)
QUESTIONS = ("Which desk should it go to?", "Can you confirm the cost centre?",
             "Which day suits you for the hand-over?")  # fmt: skip


@dataclass
class RequestDemo:
    catalog_items: int = 0
    requests: int = 0
    delivered: int = 0
    rejected: int = 0
    late: int = 0
    reminded: int = 0  # approvals reminded (and escalated by the rules) before their decision
    csat_answers: int = 0


def _answers(rng: random.Random, item: Item, start: datetime, people: list[User]) -> dict:
    answers: dict[str, Any] = {}
    for name, spec in item.fields.items():
        if "enum" in spec:
            answers[name] = rng.choice(spec["enum"])
        elif spec.get("format") == "date":
            answers[name] = (start + timedelta(days=rng.randint(5, 30))).date().isoformat()
        elif spec.get("format") == "user":
            answers[name] = rng.choice(people).id
        elif spec.get("type") == "integer":
            answers[name] = rng.randint(spec.get("minimum", 1), min(spec.get("maximum", 100), 500))
        elif name == "share":
            answers[name] = rng.choice(["\\\\files\\finance", "\\\\files\\hr", "\\\\files\\sales"])
        else:
            answers[name] = rng.choice(["Needed for the new project", "Replacing a broken one",
                                        "Joining the team next month"])  # fmt: skip
    return answers


def _working_instant(rng: random.Random, start: datetime, days: int) -> datetime:
    while True:
        day = start + timedelta(days=rng.randrange(days))
        if day.weekday() < 5:
            return day.replace(hour=rng.randint(8, 16), minute=rng.randrange(60), second=0)


def _later(rng: random.Random, moment: datetime, hours: float) -> datetime:
    """``moment`` plus about ``hours`` of office time (weekends skipped roughly)."""
    result = moment + timedelta(hours=hours * rng.uniform(0.5, 1.6))
    while result.weekday() >= 5 or not 8 <= result.hour < 18:
        result += timedelta(hours=1)
    return result


def _setup(session: Session, rng: random.Random) -> tuple[list[User], dict[str, Any]]:
    calendar = sla_service.create_calendar(
        session=session, data=CalendarCreate(name=CALENDAR, timezone="UTC", weekly_hours=OFFICE)
    )
    people = list(session.scalars(select(User).where(User.is_active).order_by(User.id)).unique())
    managers = people[: max(4, len(people) // 12)]
    owners = managers[:4]
    centres = [
        reporting.create_cost_center(
            session=session,
            data=CostCenterCreate(code=code, name=name, owner_id=owner.id),
            actor=None,
        )
        for (code, name), owner in zip(
            (("OPS", "Operations"), ("FIN", "Finance"), ("ENG", "Engineering"), ("SAL", "Sales")),
            owners,
            strict=False,
        )
    ]
    # One head, the other managers report to them, everyone else to one of the managers.
    for person in people:
        if person is managers[0]:
            boss = None
        elif person in managers:
            boss = managers[0]
        else:
            boss = rng.choice(managers)
        reporting.set_reporting_line(
            session=session,
            user=person,
            data=ReportingLineWrite(
                manager_id=boss.id if boss else None, cost_center_id=rng.choice(centres).id
            ),
            actor=None,
        )
    return people, {"calendar_id": calendar.id}


def _team_id(session: Session, name: str) -> int:
    return auth_service.ensure_team(session=session, name=name).id


def _create_catalog(session: Session, start: datetime, calendar_id: int) -> list[tuple[Item, Any]]:
    categories: dict[str, int] = {}
    created = []
    for item in CATALOG:
        if item.category not in categories:
            categories[item.category] = catalog.create_category(
                session=session, data=CategoryCreate(name=item.category)
            ).id
        stages = []
        for stage in item.stages:
            stage = dict(stage)
            if "team" in stage:
                stage["team_id"] = _team_id(session, stage.pop("team"))
            stages.append(stage)
        data = CatalogItemCreate(
            category_id=categories[item.category],
            name=item.name,
            description=f"{item.name}, delivered by {item.team}.",
            price=Decimal(item.price) if item.price else None,
            fulfilment_team_id=_team_id(session, item.team),
            delivery_minutes=item.delivery_hours * HOUR,
            calendar_id=calendar_id,
            form_schema={
                "type": "object",
                "properties": item.fields,
                "required": list(item.required),
                "additionalProperties": False,
            },
            approval_policy={"stages": stages},
            fulfilment_plan={
                "mode": "parallel" if item.parallel else "sequential",
                "tasks": [
                    {"name": name, "team_id": _team_id(session, team)} for name, team in item.tasks
                ],
            },
        )
        created.append(
            (item, catalog.create_item(session=session, data=data, actor=None, now=start))
        )
    return created


def _approve_all(
    session: Session,
    rng: random.Random,
    line: RequestItem,
    now: datetime,
    end: datetime,
    demo: RequestDemo,
) -> datetime | None:
    """Decide the item's stages one after another, the worker reminding (and escalating) the
    approvals that wait past their period first; None when it was rejected or still waits."""
    while line.state == "pending_approval":
        pending = [
            approval
            for stage in approvals.stages_of(session=session, item_id=line.id)
            for approval in stage.approvals
            if approval.state == "pending"
        ]
        if not pending:
            return now
        approval = rng.choice(pending)
        now = _later(rng, now, rng.choice((1, 3, 6, 12, 30)))
        if now > end:
            return None
        for waiting in pending:  # what the worker would have done by then
            done = flows.chase_approval(session=session, approval_id=waiting.id, now=now)
            demo.reminded += "reminded" in done
        reject = rng.random() < 0.07
        flows.decide(
            session=session,
            approval=approval,
            actor=approval.approver,
            approve=not reject,
            comment=rng.choice(REJECTIONS) if reject else None,
            now=now,
        )
        session.refresh(line)
    return now if line.state == "in_fulfilment" else None


def _fulfil(
    session: Session,
    rng: random.Random,
    line: RequestItem,
    item: Item,
    now: datetime,
    end: datetime,
) -> tuple[datetime | None, csat.SurveyInvitation | None]:
    if rng.random() < 0.12:
        now = _later(rng, now, 2)
        flows.update_item(
            session=session,
            item=line,
            data=RequestItemUpdate(state="awaiting_requester", reason=rng.choice(QUESTIONS)),
            actor=None,
            expected_version=line.version,
            now=now,
        )
        now = _later(rng, now, rng.choice((2, 8, 24)))
        if now > end:
            return None, None
        flows.reply(
            session=session, item=line, actor=line.request.requester, comment="Done.", now=now
        )
    invitation = None
    late = rng.random() < 0.18  # some teams run behind
    for _ in range(10):
        open_tasks = list(
            session.scalars(
                select(RequestTask)
                .where(RequestTask.request_item_id == line.id, RequestTask.state == "open")
                .order_by(RequestTask.position)
            ).unique()
        )
        if not open_tasks:
            break
        for task in open_tasks:
            share = item.delivery_hours / max(1, len(item.tasks) or 1)
            now = _later(
                rng, now, share * (rng.uniform(1.3, 2.5) if late else rng.uniform(0.2, 0.8))
            )
            if now > end:
                return None, None
            _, invitation = flows.update_task(
                session=session,
                task=task,
                data=TaskUpdate(
                    state="closed", close_notes="Done and confirmed with the requester."
                ),
                actor=task.assignee,
                expected_version=task.version,
                now=now,
            )
    return now, invitation


def seed_requests(
    *, session: Session, start: datetime, end: datetime, seed: int = 2025, per_month: int = 100
) -> RequestDemo:
    """The catalog and about ``per_month`` requests a month between ``start`` and ``end``."""
    rng = random.Random(seed)
    people, settings = _setup(session, rng)
    items = _create_catalog(session, start, settings["calendar_id"])
    weights = [item.weight for item, _ in items]
    days = max(1, (end - start).days)
    arrivals = sorted(_working_instant(rng, start, days) for _ in range(per_month * days // 30))
    demo = RequestDemo(catalog_items=len(items))
    for opened_at in arrivals:
        item, row = rng.choices(items, weights=weights)[0]
        requester = rng.choice(people)
        answers = _answers(rng, item, opened_at, people)
        try:
            with session.begin_nested():
                outcome = flows.order(
                    session=session,
                    data=RequestCreate(items=[{"catalog_item_id": row.id, "answers": answers}]),
                    actor=requester,
                    now=opened_at,
                )
        except NoApprover:
            continue  # e.g. a cost-centre owner ordering on their own budget
        demo.requests += 1
        (line,) = outcome.request.items
        approved_at = _approve_all(session, rng, line, opened_at, end, demo)
        if line.state == "rejected":
            demo.rejected += 1
        if approved_at is None:
            continue
        delivered_at, invitation = _fulfil(session, rng, line, item, approved_at, end)
        if delivered_at is None:
            continue
        session.refresh(line)
        demo.delivered += line.state == "delivered"
        demo.late += line.sla_state == "breached"
        if invitation is not None and rng.random() < 0.35:
            answered = delivered_at + timedelta(hours=rng.randint(1, 48))
            if answered <= end:
                csat.answer(
                    session=session,
                    token=invitation.token,
                    rating=rng.choices((5, 4, 3, 2, 1), weights=(45, 30, 12, 8, 5))[0],
                    comment=None,
                    now=answered,
                )
                demo.csat_answers += 1
    return demo
