"""A waiting approval is reminded once its reminder period has run out in business time, then
escalated by the SLA engine's escalation rules for request approvals: each recorded once (a
re-run or a second worker adds nothing), each an event on the item, each message in the
notifications outbox; a decision in between stops them."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, pool, select, update
from sqlalchemy.orm import Session

from operational import worker
from operational.auth import reporting
from operational.auth.schemas import ReportingLineWrite
from operational.core.pagination import PageParams
from operational.events.models import Event
from operational.notifications.models import OutboxMessage
from operational.requests import approvals, flows
from operational.requests.models import Approval
from operational.requests.schemas import ApprovalFilters
from operational.sla import service as sla_service
from operational.sla.models import SlaAlert, SlaEscalation, SlaEscalationRule, SlaNotification
from operational.sla.schemas import EscalationRuleCreate
from tests.conftest import assert_problem
from tests.requests.conftest import RequestKit, stage

# Friday 6 June 2025, 15:00 UTC: two business hours left in the week (office hours 09-17).
FRIDAY = datetime(2025, 6, 6, 15, 0, tzinfo=UTC)
# Four business hours after FRIDAY: Friday's last two and Monday's first two.
REMINDER_DUE = datetime(2025, 6, 9, 11, 0, tzinfo=UTC)
# One business day (480 minutes) after the reminder.
ESCALATION_DUE = datetime(2025, 6, 10, 11, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def approval_rules(session: Session, *rules: dict) -> list[SlaEscalationRule]:
    """Only these escalation rules for request approvals are active (the migration's default
    one is switched off)."""
    session.execute(
        update(SlaEscalationRule)
        .where(SlaEscalationRule.record_type == "request_approval")
        .values(is_active=False)
    )
    return [
        sla_service.create_rule(
            session=session, data=EscalationRuleCreate(record_type="request_approval", **rule)
        )
        for rule in rules
    ]


def waiting_approval(kit: RequestKit, **stage_fields) -> Approval:
    """An order placed FRIDAY whose manager stage (the boss) waits, on office hours."""
    stage_fields.setdefault("reminder_minutes", 4 * 60)
    item = kit.order(
        kit.item(
            calendar_id=kit.office_calendar().id,
            approval_policy={"stages": [stage("Manager", "manager", **stage_fields)]},
        ),
        now=FRIDAY,
    )
    return kit.pending(item)[kit.boss.id]


def chase(kit: RequestKit, approval: Approval, now: datetime) -> list[str]:
    return flows.chase_approval(session=kit.session, approval_id=approval.id, now=now)


def kinds(kit: RequestKit, approval: Approval) -> list[str]:
    return [
        event.kind
        for event in kit.events(approval.item)
        if event.kind in ("approval_reminded", "approval_escalated")
    ]


def outbox(kit: RequestKit, event_type: str) -> list[int | None]:
    return list(
        kit.session.scalars(
            select(OutboxMessage.recipient_user_id)
            .where(OutboxMessage.event_type == event_type, OutboxMessage.channel == "mail")
            .order_by(OutboxMessage.id)
        )
    )


def count(kit: RequestKit, model, approval: Approval) -> int:
    return kit.session.scalar(
        select(func.count())
        .select_from(model)
        .where(model.record_type == "request_approval", model.record_id == approval.id)
    )


@pytest.fixture
def ceo(kit: RequestKit):
    """The boss's own manager, to whom the boss's approvals escalate."""
    ceo = kit.factory.user(roles=("manager",), display_name="Carl CEO")
    reporting.set_reporting_line(
        session=kit.session, user=kit.boss, data=ReportingLineWrite(manager_id=ceo.id), actor=None
    )
    return ceo


def test_reminded_after_the_period_in_business_time_and_not_before(kit, ceo):
    approval_rules(
        kit.session, {"name": "to the manager", "action": "escalate", "delay_minutes": 480}
    )
    approval = waiting_approval(kit)
    assert approval.next_alert_at == REMINDER_DUE
    for before in (FRIDAY + timedelta(hours=3), datetime(2025, 6, 8, 12, tzinfo=UTC)):
        assert chase(kit, approval, before) == []  # the weekend is no business time
    assert chase(kit, approval, REMINDER_DUE - MINUTE) == []
    assert kinds(kit, approval) == [] and outbox(kit, "approval.reminder") == []
    assert approvals.due_alerts(session=kit.session, now=REMINDER_DUE - MINUTE) == []

    assert approval.id in approvals.due_alerts(session=kit.session, now=REMINDER_DUE)
    assert chase(kit, approval, REMINDER_DUE) == ["reminded"]
    assert kinds(kit, approval) == ["approval_reminded"]
    assert outbox(kit, "approval.reminder") == [kit.boss.id]
    alert = kit.session.scalars(
        select(SlaAlert).where(
            SlaAlert.record_type == "request_approval", SlaAlert.record_id == approval.id
        )
    ).one()
    assert (alert.occurred_at, alert.target_minutes, alert.timer_id, alert.incident_id) == (
        REMINDER_DUE,
        240,
        None,
        None,
    )
    assert approval.reminded_at == REMINDER_DUE and approval.escalated_at is None


def test_escalated_after_the_rules_period_to_the_approvers_manager_once(kit, ceo):
    (rule,) = approval_rules(
        kit.session, {"name": "to the manager", "action": "escalate", "delay_minutes": 480}
    )
    approval = waiting_approval(kit)
    assert chase(kit, approval, REMINDER_DUE) == ["reminded"]
    assert approval.next_alert_at == ESCALATION_DUE  # Tuesday 11:00, over the night
    assert chase(kit, approval, ESCALATION_DUE - MINUTE) == []
    assert approval.escalated_to_id is None

    assert chase(kit, approval, ESCALATION_DUE) == ["escalated"]
    assert (approval.escalated_at, approval.escalated_to_id) == (ESCALATION_DUE, ceo.id)
    assert approval.next_alert_at is None
    escalation = kit.session.scalars(
        select(SlaEscalation).where(SlaEscalation.record_id == approval.id)
    ).one()
    assert (escalation.record_type, escalation.rule_id, escalation.outcome) == (
        "request_approval",
        rule.id,
        "done",
    )
    (notification,) = kit.session.scalars(
        select(SlaNotification).where(SlaNotification.escalation_id == escalation.id)
    )
    assert notification.recipient_user_id == ceo.id and notification.delivered_at is not None
    assert outbox(kit, "approval.requested")[-1] == ceo.id
    (event,) = kit.events(approval.item, "approval_escalated")
    assert event.new_value == "Carl CEO" and event.actor_label == "sla"
    assert event.data["rule_id"] == rule.id and event.data["escalated_to_id"] == ceo.id

    # Re-runs, later ones too, record nothing more and send nothing more.
    messages = kit.session.scalar(select(func.count()).select_from(OutboxMessage))
    for later in (ESCALATION_DUE, ESCALATION_DUE + timedelta(days=2)):
        assert chase(kit, approval, later) == []
    assert kinds(kit, approval) == ["approval_reminded", "approval_escalated"]
    assert [count(kit, model, approval) for model in (SlaAlert, SlaEscalation)] == [1, 1]
    assert kit.session.scalar(select(func.count()).select_from(OutboxMessage)) == messages

    # The manager sees it among what waits for them, and decides in the approver's place.
    mine = approvals.search(
        session=kit.session,
        viewer=ceo,
        filters=ApprovalFilters(mine="pending"),
        params=PageParams(),
        read_all=False,
        now=ESCALATION_DUE,
    )
    assert [found.id for found in mine.items] == [approval.id]
    decided = kit.decide(approval.item, kit.boss, by=ceo, now=ESCALATION_DUE + MINUTE)
    assert decided.state == "approved" and decided.decided_by_id == ceo.id
    (decision,) = kit.events(approval.item, "approval_decided")
    assert decision.data["as"] == "manager"


def test_a_decision_in_between_stops_the_escalation(kit, ceo):
    approval_rules(
        kit.session, {"name": "to the manager", "action": "escalate", "delay_minutes": 60}
    )
    approval = waiting_approval(kit)
    assert chase(kit, approval, REMINDER_DUE) == ["reminded"]
    kit.decide(approval.item, kit.boss, now=REMINDER_DUE + timedelta(minutes=30))
    kit.reload(approval)
    assert approval.state == "approved" and approval.next_alert_at is None
    assert approvals.due_alerts(session=kit.session, now=ESCALATION_DUE) == []
    assert chase(kit, approval, ESCALATION_DUE) == []
    assert kinds(kit, approval) == ["approval_reminded"]
    assert count(kit, SlaEscalation, approval) == 0


def test_a_decision_before_the_reminder_stops_it_too(kit, ceo):
    approval_rules(kit.session, {"name": "to the manager", "action": "escalate"})
    approval = waiting_approval(kit)
    kit.decide(approval.item, kit.boss, approve=False, now=FRIDAY + timedelta(hours=1))
    assert chase(kit, approval, ESCALATION_DUE) == []
    assert count(kit, SlaAlert, approval) == 0 and outbox(kit, "approval.reminder") == []


def test_a_rule_may_name_who_decides_and_a_notify_rule_tells_a_team(kit, ceo):
    director = kit.factory.user(roles=("manager",), display_name="Dora Director")
    watchers = kit.team(kit.agent)
    approval_rules(
        kit.session,
        {"name": "to the director", "action": "escalate", "user_id": director.id},
        {"name": "tell the desk", "action": "notify", "team_id": watchers.id, "delay_minutes": 60},
    )
    approval = waiting_approval(kit)
    # Both due by then: reminded, escalated to the director, the desk told; in that order.
    assert chase(kit, approval, ESCALATION_DUE) == ["reminded", "escalated", "notified"]
    assert approval.escalated_to_id == director.id
    assert outbox(kit, "sla.escalation") == [kit.agent.id]
    decided = kit.decide(approval.item, kit.boss, by=director, now=ESCALATION_DUE + MINUTE)
    assert decided.decided_by_id == director.id
    (decision,) = kit.events(approval.item, "approval_decided")
    assert decision.data["as"] == "escalated"


def test_nobody_to_escalate_to_is_recorded_as_skipped(kit):
    approval_rules(kit.session, {"name": "to the manager", "action": "escalate"})
    approval = waiting_approval(kit)  # the boss has no manager
    assert chase(kit, approval, REMINDER_DUE) == ["reminded"]
    (event,) = kit.events(approval.item, "approval_escalated")
    assert event.data["outcome"] == "skipped" and "no manager" in event.data["reason"]
    assert approval.escalated_to_id is None
    assert chase(kit, approval, ESCALATION_DUE) == []  # not tried again


def test_a_stage_escalation_period_says_when_the_rules_fire(kit, ceo):
    approval_rules(
        kit.session, {"name": "to the manager", "action": "escalate", "delay_minutes": 1}
    )
    approval = waiting_approval(kit, escalation_minutes=8 * 60)  # from the request: Monday 15:00
    assert chase(kit, approval, REMINDER_DUE) == ["reminded"]
    assert approval.next_alert_at == datetime(2025, 6, 9, 15, 0, tzinfo=UTC)
    assert chase(kit, approval, datetime(2025, 6, 9, 15, 0, tzinfo=UTC)) == ["escalated"]


def test_the_reminder_period_comes_from_the_policy_or_the_settings(kit):
    calendar = kit.office_calendar()
    policy = {"reminder_minutes": 120, "stages": [stage("Manager", "manager")]}
    item = kit.order(kit.item(calendar_id=calendar.id, approval_policy=policy), now=FRIDAY)
    assert kit.pending(item)[kit.boss.id].next_alert_at == FRIDAY + timedelta(hours=2)
    plain = kit.order(kit.item(approval_policy={"stages": [stage("Manager", "manager")]}))
    (first,) = approvals.stages_of(session=kit.session, item_id=plain.id)
    assert first.reminder_minutes == 480  # ITSM_APPROVAL_REMINDER_MINUTES' default


def test_approval_rules_through_the_sla_escalation_rules_api(client, kit, ceo):
    admin = kit.factory.auth_headers(kit.admin)
    url = "/api/v1/sla/escalation-rules"
    body = {
        "name": "approvals to the manager",
        "record_type": "request_approval",
        "action": "escalate",
        "delay_minutes": 480,
    }
    created = client.post(url, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json() | body == created.json() and created.json()["threshold"] == 100
    for bad in (
        {**body, "name": "x", "action": "reassign", "team_id": kit.fulfillers.id},
        {**body, "name": "x", "priority": 1},
        {**body, "name": "x", "user_id": 999_999},
        {"name": "x", "threshold": 100, "action": "notify", "delay_minutes": 5},
        {"name": "x", "threshold": 100, "action": "escalate"},
    ):
        assert_problem(client.post(url, json=bad, headers=admin), 422)
    listed = client.get(url, params={"record_type": "request_approval"}, headers=admin).json()
    assert "approvals to the manager" in [rule["name"] for rule in listed["items"]]
    assert {rule["record_type"] for rule in listed["items"]} == {"request_approval"}

    approval_rules(kit.session)  # the API's rule alone (and the default off)
    kit.session.execute(
        update(SlaEscalationRule)
        .where(SlaEscalationRule.id == created.json()["id"])
        .values(is_active=True)
    )
    approval = waiting_approval(kit)
    chase(kit, approval, ESCALATION_DUE)
    escalations = client.get(
        "/api/v1/sla/escalations",
        params={"record_type": "request_approval", "record_id": approval.id},
        headers=admin,
    ).json()
    assert [(e["rule_id"], e["incident_id"], e["timer_id"]) for e in escalations["items"]] == [
        (created.json()["id"], None, None)
    ]
    notices = client.get(
        "/api/v1/sla/notifications",
        params={"record_type": "request_approval", "record_id": approval.id},
        headers=admin,
    ).json()
    assert [n["recipient_user_id"] for n in notices["items"]] == [ceo.id]


def test_two_workers_remind_and_escalate_each_approval_once(fresh_database):
    from tests.factories import Factory

    url = fresh_database("approval_workers")
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        kit = RequestKit(session, Factory(session))
        ceo = kit.factory.user(roles=("manager",))
        reporting.set_reporting_line(
            session=session, user=kit.boss, data=ReportingLineWrite(manager_id=ceo.id), actor=None
        )
        approval_rules(session, {"name": "to the manager", "action": "escalate"})
        ids = [waiting_approval(kit).id for _ in range(6)]
        ceo_id = ceo.id
        session.commit()
    engine.dispose()
    start = threading.Barrier(2)
    reports: list[worker.ScanReport] = []
    errors: list[BaseException] = []

    def scan() -> None:
        own = create_engine(url, poolclass=pool.NullPool)
        try:
            start.wait()
            reports.append(worker.run_once(engine=own, now=ESCALATION_DUE, dispatch=False))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and [report.failed for report in reports] == [0, 0]

    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        for kind in ("approval_reminded", "approval_escalated"):
            logged = session.scalars(select(Event.data).where(Event.kind == kind))
            counted = Counter(data["approval_id"] for data in logged)
            assert counted == dict.fromkeys(ids, 1), kind
        escalated = session.scalars(select(Approval.escalated_to_id).where(Approval.id.in_(ids)))
        assert set(escalated) == {ceo_id}
        reminders = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.event_type == "approval.reminder")
        )
        assert reminders == len(ids)
    engine.dispose()
