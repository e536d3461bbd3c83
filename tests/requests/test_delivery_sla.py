"""The delivery clock: the item's target on its catalog item's business calendar, replayed by
the SLA engine; paused while waiting for the requester; approval wait recorded apart from
fulfilment work."""

from datetime import timedelta

from operational.requests import flows
from operational.requests.schemas import RequestItemUpdate
from tests.requests.conftest import MONDAY, stage


def test_the_clock_runs_on_the_items_business_calendar(kit):
    calendar = kit.office_calendar()
    item = kit.order(kit.item(calendar_id=calendar.id, delivery_minutes=16 * 60))
    assert item.sla_state == "running"
    assert item.sla_target_minutes == 960
    # 16 business hours from Monday 09:00 on 09:00-17:00 weekdays: Tuesday 17:00.
    assert item.sla_due_at == MONDAY + timedelta(days=1, hours=8)


def test_waiting_for_the_requester_pauses_the_clock_and_moves_the_deadline(kit):
    calendar = kit.office_calendar()
    item = kit.order(kit.item(calendar_id=calendar.id, delivery_minutes=16 * 60))
    flows.update_item(
        session=kit.session,
        item=item,
        data=RequestItemUpdate(state="awaiting_requester", reason="which colour?"),
        actor=kit.agent,
        expected_version=item.version,
        now=MONDAY + timedelta(hours=2),
    )
    assert (item.sla_state, item.sla_due_at) == ("paused", None)
    assert item.sla_elapsed_minutes == 120
    # The requester answers on Tuesday at 09:00: the wait held 6 business hours (11:00-17:00).
    flows.reply(
        session=kit.session,
        item=item,
        actor=kit.requester,
        comment="black",
        now=MONDAY + timedelta(days=1),
    )
    assert item.state == "in_fulfilment" and item.sla_state == "running"
    assert item.sla_paused_minutes == 360
    # 14 business hours remain from Tuesday 09:00: Wednesday 15:00.
    assert item.sla_due_at == MONDAY + timedelta(days=2, hours=6)
    (task,) = kit.tasks(item)
    kit.close_task(task, now=MONDAY + timedelta(days=2, hours=1))  # Wednesday 10:00
    item = kit.reload(item)
    assert item.sla_state == "met"
    assert item.sla_elapsed_minutes == 120 + 8 * 60 + 60


def test_approval_wait_is_recorded_apart_from_fulfilment_work(kit):
    calendar = kit.office_calendar()
    item = kit.order(
        kit.item(
            calendar_id=calendar.id,
            delivery_minutes=8 * 60,
            approval_policy={"stages": [stage("Manager", "manager")]},
        )
    )
    # Approved Monday 13:00 (4 business hours of waiting), delivered Tuesday 11:00.
    kit.decide(item, kit.boss, now=MONDAY + timedelta(hours=4))
    (task,) = kit.tasks(item)
    kit.close_task(task, now=MONDAY + timedelta(days=1, hours=2))
    item = kit.reload(item)
    assert item.approval_wait_minutes == 240
    assert item.approval_wait_business_minutes == 240
    assert item.fulfilment_minutes == 22 * 60  # calendar time: 13:00 to 11:00 next day
    assert item.fulfilment_business_minutes == 4 * 60 + 2 * 60  # 13-17 and 09-11
    # The clock counts both: 10 business hours against a target of 8, so late.
    assert item.sla_elapsed_minutes == 600
    assert item.sla_state == "breached"
    # 8 business hours run out at the end of Monday (a target ending with a window ends there).
    assert item.sla_breached_at == MONDAY + timedelta(hours=8)


def test_the_worker_finds_a_breach_as_time_passes(kit):
    item = kit.order(kit.item(delivery_minutes=60))  # 24x7
    assert item.sla_next_alert_at == MONDAY + timedelta(minutes=45)  # the 75% warning
    flows.refresh_clock(session=kit.session, item_id=item.id, now=MONDAY + timedelta(minutes=61))
    assert item.sla_state == "breached"
    assert item.sla_breached_at == MONDAY + timedelta(minutes=60)
    assert item.sla_next_alert_at is None


def test_a_rejected_item_cancels_its_clock(kit):
    item = kit.order(kit.item(approval_policy={"stages": [stage("Manager", "manager")]}))
    kit.decide(item, kit.boss, approve=False, now=MONDAY + timedelta(hours=1))
    item = kit.reload(item)
    assert item.sla_state == "cancelled"
    assert item.approval_wait_minutes == 60 and item.fulfilment_minutes is None
