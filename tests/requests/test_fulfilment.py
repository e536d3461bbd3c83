"""Fulfilment: tasks of the plan created and assigned when approvals end, in order or in
parallel; the item delivered when its last task closes; the request closed (and its survey
opened) when all its items are; the workflows' 409s name the allowed moves."""

from datetime import timedelta

import pytest

from operational.core.errors import Conflict, InvalidTransition, PreconditionFailed
from operational.requests import flows
from operational.requests.schemas import RequestCreate, RequestItemUpdate, TaskUpdate
from tests.requests.conftest import MONDAY, stage


def _plan(kit, mode: str, *teams) -> dict:
    return {
        "mode": mode,
        "tasks": [{"name": f"Step {n}", "team_id": team.id} for n, team in enumerate(teams, 1)],
    }


def test_tasks_are_created_when_approvals_end_and_assigned_within_their_team(kit):
    worker = kit.factory.user(roles=("agent",))
    hardware = kit.team(worker)
    item = kit.order(
        kit.item(
            approval_policy={"stages": [stage("Manager", "manager")]},
            fulfilment_plan=_plan(kit, "sequential", hardware),
        )
    )
    assert kit.tasks(item) == []
    kit.decide(item, kit.boss, now=MONDAY + timedelta(hours=2))
    (task,) = kit.tasks(item)
    assert (task.state, task.assignment_group_id, task.assignee_id) == (
        "open",
        hardware.id,
        worker.id,
    )
    assert task.number.startswith("SCTASK") and task.opened_at == MONDAY + timedelta(hours=2)


def test_sequential_tasks_open_one_after_another_and_the_last_delivers(kit):
    first, second = kit.team(kit.factory.user()), kit.team(kit.factory.user())
    item = kit.order(kit.item(fulfilment_plan=_plan(kit, "sequential", first, second)))
    one, two = kit.tasks(item)
    assert (one.state, two.state) == ("open", "pending")
    kit.close_task(one, now=MONDAY + timedelta(hours=1))
    one, two = kit.tasks(item)
    assert (one.state, two.state) == ("closed", "open")
    assert kit.reload(item).state == "in_fulfilment"
    kit.close_task(two, now=MONDAY + timedelta(hours=4))
    item = kit.reload(item)
    assert item.state == "delivered"
    assert item.delivered_at == MONDAY + timedelta(hours=4)
    assert item.fulfilment_minutes == 240


def test_parallel_tasks_open_at_once(kit):
    first, second = kit.team(kit.factory.user()), kit.team(kit.factory.user())
    item = kit.order(kit.item(fulfilment_plan=_plan(kit, "parallel", first, second)))
    one, two = kit.tasks(item)
    assert (one.state, two.state) == ("open", "open")
    kit.close_task(two)
    assert kit.reload(item).state == "in_fulfilment"
    kit.close_task(one)
    assert kit.reload(item).state == "delivered"


def test_the_request_closes_when_all_its_items_are_finished_and_a_survey_opens(kit):
    plain, guarded = kit.item(), kit.item(approval_policy={"stages": [stage("M", "manager")]})
    outcome = flows.order(
        session=kit.session,
        data=RequestCreate(
            items=[
                {
                    "catalog_item_id": plain.id,
                    "answers": {"model": "standard", "needed_by": "2025-07-01"},
                },
                {
                    "catalog_item_id": guarded.id,
                    "answers": {"model": "developer", "needed_by": "2025-07-01"},
                },
            ]
        ),
        actor=kit.requester,
        now=MONDAY,
    )
    request = outcome.request
    first, second = request.items
    assert (first.line, second.line) == (1, 2)
    assert first.number.startswith("RITM") and request.number.startswith("REQ")
    (task,) = kit.tasks(first)
    kit.close_task(task)
    assert kit.reload(request).state == "open"
    _, invitation = flows.decide(
        session=kit.session,
        approval=kit.pending(second)[kit.boss.id],
        actor=kit.boss,
        approve=False,
        comment="one laptop is enough",
        now=MONDAY,
    )
    request = kit.reload(request)
    assert request.state == "closed" and request.closed_at == MONDAY
    assert invitation is not None and invitation.survey.request_id == request.id


def test_an_illegal_move_is_a_409_naming_the_allowed_ones(kit):
    item = kit.order(kit.item())
    with pytest.raises(InvalidTransition) as refused:
        flows.update_item(
            session=kit.session,
            item=item,
            data=RequestItemUpdate(state="delivered"),
            actor=kit.agent,
            expected_version=item.version,
        )
    assert refused.value.extra["allowed"] == ["awaiting_requester", "cancelled"]
    (task,) = kit.tasks(item)
    kit.close_task(task)
    (task,) = kit.tasks(item)
    with pytest.raises(Conflict, match="closed"):
        kit.close_task(task)


def test_a_stale_task_version_is_a_412(kit):
    item = kit.order(kit.item())
    (task,) = kit.tasks(item)
    stale = task.version
    flows.update_task(
        session=kit.session,
        task=task,
        data=TaskUpdate(state="in_progress"),
        actor=kit.agent,
        expected_version=stale,
    )
    with pytest.raises(PreconditionFailed):
        flows.update_task(
            session=kit.session,
            task=task,
            data=TaskUpdate(state="open"),
            actor=kit.agent,
            expected_version=stale,
        )


def test_cancelling_every_task_cancels_the_item(kit):
    item = kit.order(kit.item())
    (task,) = kit.tasks(item)
    flows.update_task(
        session=kit.session,
        task=task,
        data=TaskUpdate(state="cancelled"),
        actor=kit.agent,
        expected_version=task.version,
    )
    item = kit.reload(item)
    assert item.state == "cancelled"
    assert kit.request_of(item).state == "cancelled"


def test_withdrawing_a_request_cancels_its_approvals_and_tasks(kit):
    item = kit.order(kit.item(approval_policy={"stages": [stage("M", "manager")]}))
    request = kit.request_of(item)
    flows.cancel_request(
        session=kit.session,
        request=request,
        actor=kit.requester,
        reason="not needed",
        expected_version=request.version,
    )
    item = kit.reload(item)
    assert (item.state, request.state) == ("cancelled", "cancelled")
    assert kit.pending(item) == {}
