"""Each approval shape: none, sequential stages, parallel (all), one of many, quorum, a stage
skipped by its condition, delegation, rejection, self-approval refused; reminders and escalation.
"""

from datetime import timedelta

import pytest

from operational.auth import reporting
from operational.auth.schemas import ReportingLineWrite
from operational.requests import approvals, flows
from operational.requests.exceptions import NoApprover, NotYourApproval, SelfApproval
from operational.requests.models import ApprovalStage
from operational.requests.schemas import DelegationCreate
from tests.requests.conftest import MONDAY, stage


def _stages(kit, item) -> list[tuple[str, str]]:
    return [
        (row.name, row.state)
        for row in kit.session.query(ApprovalStage)
        .filter_by(request_item_id=item.id)
        .order_by(ApprovalStage.position)
        .populate_existing()
    ]


def test_an_item_without_a_policy_goes_straight_to_fulfilment(kit):
    item = kit.order(kit.item())
    assert item.state == "in_fulfilment"
    assert item.approved_at == MONDAY
    assert item.approval_wait_minutes == 0
    assert [task.state for task in kit.tasks(item)] == ["open"]


def test_stages_run_one_after_another_manager_then_cost_centre_owner(kit):
    laptop = kit.item(
        approval_policy={
            "stages": [stage("Manager", "manager"), stage("Budget", "cost_center_owner")]
        }
    )
    item = kit.order(laptop)
    assert item.state == "pending_approval"
    assert set(kit.pending(item)) == {kit.boss.id}  # the second stage waits
    assert _stages(kit, item) == [("Manager", "pending"), ("Budget", "waiting")]

    kit.decide(item, kit.boss, now=MONDAY + timedelta(hours=1))
    assert set(kit.pending(item)) == {kit.cfo.id}
    assert kit.reload(item).state == "pending_approval"

    kit.decide(item, kit.cfo, now=MONDAY + timedelta(hours=3))
    item = kit.reload(item)
    assert item.state == "in_fulfilment"
    assert item.approved_at == MONDAY + timedelta(hours=3)
    assert item.approval_wait_minutes == 180
    assert _stages(kit, item) == [("Manager", "approved"), ("Budget", "approved")]
    decisions = kit.events(item, "approval_decided")
    assert [(e.actor_id, e.new_value, e.data["stage"]) for e in decisions] == [
        (kit.boss.id, "approved", 1),
        (kit.cfo.id, "approved", 2),
    ]
    assert all(e.data["policy_version"] == laptop.version for e in decisions)


def test_all_approvers_of_a_stage_are_asked_in_parallel_and_all_must_approve(kit):
    one, two = kit.person(), kit.person()
    item = kit.order(
        kit.item(
            approval_policy={
                "stages": [stage("Security", "users", user_ids=[one.id, two.id], rule="all")]
            }
        )
    )
    assert set(kit.pending(item)) == {one.id, two.id}
    kit.decide(item, two)
    assert kit.reload(item).state == "pending_approval"
    kit.decide(item, one)
    assert kit.reload(item).state == "in_fulfilment"


def test_one_of_a_group_decides_and_the_others_are_no_longer_asked(kit):
    one, two, three = kit.person(), kit.person(), kit.person()
    group = kit.team(one, two, three)
    item = kit.order(kit.item(approval_policy={"stages": [stage("IT", "team", team_id=group.id)]}))
    assert set(kit.pending(item)) == {one.id, two.id, three.id}
    kit.decide(item, three)
    assert kit.reload(item).state == "in_fulfilment"
    states = {
        a.approver_id: a.state
        for a in kit.session.query(ApprovalStage).filter_by(request_item_id=item.id).one().approvals
    }
    assert states == {one.id: "not_required", two.id: "not_required", three.id: "approved"}


def test_a_quorum_decides_and_a_quorum_out_of_reach_rejects(kit):
    members = [kit.person() for _ in range(4)]
    group = kit.team(*members)
    policy = {"stages": [stage("Board", "team", team_id=group.id, rule="quorum", quorum=2)]}
    approved = kit.order(kit.item(approval_policy=policy))
    kit.decide(approved, members[0])
    assert kit.reload(approved).state == "pending_approval"
    kit.decide(approved, members[1])
    assert kit.reload(approved).state == "in_fulfilment"

    refused = kit.order(kit.item(approval_policy=policy))
    kit.decide(refused, members[0], approve=False, comment="no")
    kit.decide(refused, members[1], approve=False, comment="no")
    assert kit.reload(refused).state == "pending_approval"  # 2 of the 2 still asked could do it
    kit.decide(refused, members[2], approve=False, comment="three say no")
    refused = kit.reload(refused)
    assert refused.state == "rejected"
    assert refused.rejection_reason == "three say no"


def test_a_stage_whose_condition_does_not_hold_is_skipped(kit):
    policy = {
        "stages": [
            stage("Manager", "manager"),
            stage(
                "Finance",
                "cost_center_owner",
                condition={"field": "cost", "op": "gt", "value": 1000},
            ),
        ]
    }
    cheap = kit.order(kit.item(price="400.00", approval_policy=policy), quantity=2)
    assert _stages(kit, cheap) == [("Manager", "pending"), ("Finance", "skipped")]
    assert [e.new_value for e in kit.events(cheap, "approval_skipped")] == ["Finance"]
    kit.decide(cheap, kit.boss)
    assert kit.reload(cheap).state == "in_fulfilment"

    dear = kit.order(kit.item(price="400.00", approval_policy=policy), quantity=3)  # 1,200
    assert _stages(kit, dear) == [("Manager", "pending"), ("Finance", "waiting")]
    kit.decide(dear, kit.boss)
    assert set(kit.pending(dear)) == {kit.cfo.id}


def test_a_rejection_ends_the_item_with_the_reason_and_cancels_later_stages(kit):
    policy = {"stages": [stage("Manager", "manager"), stage("Budget", "cost_center_owner")]}
    item = kit.order(kit.item(approval_policy=policy))
    kit.decide(item, kit.boss, approve=False, comment="You have a laptop already")
    item = kit.reload(item)
    assert item.state == "rejected"
    assert item.rejection_reason == "You have a laptop already"
    assert item.sla_state == "cancelled"
    assert _stages(kit, item) == [("Manager", "rejected"), ("Budget", "cancelled")]
    assert kit.tasks(item) == []
    assert kit.request_of(item).state == "closed"
    (event,) = kit.events(item, "approval_decided")
    assert event.new_value == "rejected" and event.data["comment"] == "You have a laptop already"


def test_nobody_approves_their_own_request(kit):
    colleague = kit.person()
    group = kit.team(kit.requester, colleague)
    item = kit.order(kit.item(approval_policy={"stages": [stage("IT", "team", team_id=group.id)]}))
    assert set(kit.pending(item)) == {colleague.id}  # the requester is never asked

    # Standing in for the approver does not let the requester decide either.
    flows_approval = kit.pending(item)[colleague.id]
    approvals.create_delegation(
        session=kit.session,
        data=DelegationCreate(
            delegate_id=kit.requester.id,
            starts_at=MONDAY - timedelta(days=1),
            ends_at=MONDAY + timedelta(days=7),
        ),
        actor=colleague,
        delegator=colleague,
    )
    with pytest.raises(SelfApproval):
        flows.decide(
            session=kit.session,
            approval=flows_approval,
            actor=kit.requester,
            approve=True,
            comment=None,
            now=MONDAY,
        )


def test_a_policy_nobody_could_approve_refuses_the_order(kit):
    orphan = kit.person(manager=None)
    with pytest.raises(NoApprover, match="no manager"):
        kit.order(kit.item(approval_policy={"stages": [stage("Manager", "manager")]}), by=orphan)


def test_a_delegate_decides_within_the_period_only(kit):
    deputy = kit.person()
    approvals.create_delegation(
        session=kit.session,
        data=DelegationCreate(
            delegate_id=deputy.id, starts_at=MONDAY, ends_at=MONDAY + timedelta(days=2)
        ),
        actor=kit.boss,
        delegator=kit.boss,
    )
    policy = {"stages": [stage("Manager", "manager")]}
    late = kit.order(kit.item(approval_policy=policy))
    with pytest.raises(NotYourApproval):
        kit.decide(late, kit.boss, by=deputy, now=MONDAY + timedelta(days=3))

    item = kit.order(kit.item(approval_policy=policy))
    decided = kit.decide(item, kit.boss, by=deputy, now=MONDAY + timedelta(hours=5))
    assert decided.decided_by_id == deputy.id and decided.approver_id == kit.boss.id
    (event,) = kit.events(item, "approval_decided")
    assert event.actor_id == deputy.id
    assert event.data["on_behalf_of"] == kit.boss.id and event.data["as"] == "delegate"
    assert kit.reload(item).state == "in_fulfilment"


def test_a_stranger_cannot_decide(kit):
    item = kit.order(kit.item(approval_policy={"stages": [stage("Manager", "manager")]}))
    with pytest.raises(NotYourApproval):
        kit.decide(item, kit.boss, by=kit.person())


def test_a_waiting_approval_is_reminded_then_escalated_to_the_approvers_manager(kit):
    ceo = kit.factory.user(roles=("manager",))
    reporting.set_reporting_line(
        session=kit.session, user=kit.boss, data=ReportingLineWrite(manager_id=ceo.id), actor=None
    )
    calendar = kit.office_calendar()
    item = kit.order(
        kit.item(
            calendar_id=calendar.id,
            approval_policy={
                "stages": [
                    stage("Manager", "manager", reminder_minutes=8 * 60, escalation_minutes=16 * 60)
                ]
            },
        )
    )
    approval = kit.pending(item)[kit.boss.id]
    # 8 business hours from Monday 09:00 is Monday 17:00; 16 is Tuesday 17:00.
    assert approval.next_alert_at == MONDAY + timedelta(hours=8)
    assert (
        flows.chase_approval(
            session=kit.session, approval_id=approval.id, now=MONDAY + timedelta(hours=7)
        )
        == []
    )
    assert flows.chase_approval(
        session=kit.session, approval_id=approval.id, now=MONDAY + timedelta(hours=9)
    ) == ["reminded"]
    assert approval.next_alert_at == MONDAY + timedelta(days=1, hours=8)
    assert flows.chase_approval(
        session=kit.session, approval_id=approval.id, now=MONDAY + timedelta(days=1, hours=9)
    ) == ["escalated"]
    assert approval.next_alert_at is None
    assert [e.kind for e in kit.events(item) if e.kind.startswith("approval_")][-2:] == [
        "approval_reminded",
        "approval_escalated",
    ]
    # From then on the approver's manager may decide in their place.
    decided = kit.decide(item, kit.boss, by=ceo, now=MONDAY + timedelta(days=1, hours=10))
    assert decided.state == "approved" and decided.decided_by_id == ceo.id
