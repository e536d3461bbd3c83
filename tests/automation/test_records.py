"""Rules on every record type: problems and service requests (their triggers, custom field
conditions, actions, dry run and schedules), CAB decisions on changes, and the actions a record
type cannot take refused when the rule is saved."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from operational.automation import flows as automation_flows
from operational.automation import records, service
from operational.automation.enums import RecordType, RunOutcome
from operational.automation.flows import WRITERS
from operational.automation.records import KINDS, OPTIONAL_ACTIONS
from operational.automation.schemas import RuleCreate
from operational.changes import flows as change_flows
from operational.changes.schemas import DecisionCreate
from operational.core.errors import UnprocessableEntity
from operational.customfields import service as customfields_service
from operational.customfields.schemas import DefinitionCreate
from operational.events.models import Event
from operational.problems import flows as problem_flows
from operational.problems.schemas import ProblemCreate, ProblemUpdate
from operational.requests import flows as request_flows
from operational.requests.schemas import RequestCreate, RequestItemUpdate, RequestUpdate
from tests.requests.conftest import MONDAY, RequestKit

API = "/api/v1/automation/rules"


def counted(auto, rule) -> service.Counters:
    return service.counters(session=auto.session, rule_ids=[rule.id]).get(
        rule.id, service.Counters()
    )


def site_field(auto, record_type: str, name: str = "site"):
    return customfields_service.create_definition(
        session=auto.session,
        data=DefinitionCreate(
            record_type=record_type,
            name=name,
            label=name.title(),
            type="choice",
            allowed_values=["AMS-1", "RTM-2"],
            requester_settable=True,
        ),
        actor=auto.admin,
    )


def rule_events(auto, record_type: str, record, rule) -> list[Event]:
    return [
        event
        for event in auto.session.scalars(
            select(Event)
            .where(Event.entity_type == record_type, Event.entity_id == record.id)
            .order_by(Event.seq)
        )
        if event.data and event.data.get("rule_id") == rule.id
    ]


# ------------------------------------------------------------------------------ the registry


def test_every_record_type_has_one_kind_and_one_writer_that_agree():
    assert set(KINDS) == set(RecordType) == set(WRITERS)
    for record_type, kind in KINDS.items():
        writer = WRITERS[record_type]
        takes = {action for action in OPTIONAL_ACTIONS if getattr(writer, action) is not None}
        assert takes == set(kind.actions), record_type
        # Every action a type refuses says why (the 422 repeats it).
        assert set(kind.refusals) == OPTIONAL_ACTIONS - takes, record_type
        assert {"number", "state"} <= kind.fields()
        assert {"created", "updated", "state_changed", "schedule"} <= kind.triggers


# -------------------------------------------------------------------------------- problems


def problem(auto, **fields):
    fields.setdefault("title", "VPN concentrator reboots nightly")
    return problem_flows.create(
        session=auto.session, data=ProblemCreate(**fields), actor=auto.agent
    )


def test_a_new_problem_on_a_site_gets_a_category_an_owner_and_a_notice(auto):
    site_field(auto, "problem")
    team, members = auto.team(members=2)
    rule = auto.rule(
        record_type="problem",
        trigger="created",
        conditions={"field": "cf.site", "value": "AMS-1"},
        actions=[
            {"type": "set_fields", "fields": {"category": "Network", "urgency": 1}},
            {"type": "assign", "team_id": team.id, "strategy": "round_robin"},
            {"type": "notify", "to_assignee": True, "template": "{{ number }} at {{ cf.site }}"},
        ],
    )
    elsewhere = problem(auto, custom_fields={"site": "RTM-2"})
    found = problem(auto, custom_fields={"site": "AMS-1"})

    assert (elsewhere.category, elsewhere.owner_id) == (None, None)
    assert found.category == "Network" and found.urgency == 1
    assert found.assignment_group_id == team.id
    assert found.owner_id in {member.id for member in members}
    (message,) = auto.outbox()
    assert message.recipient_user_id == found.owner_id
    assert f"{found.number} at AMS-1" in message.body_text
    changed = rule_events(auto, "problem", found, rule)
    assert {event.field for event in changed} >= {"category", "owner", "assignment_group"}
    assert all(event.actor_label == f"rule: {rule.name}" for event in changed)
    assert counted(auto, rule).times_fired == 1


def test_problem_updates_and_moves_trigger_their_rules(auto, changes):
    culprit = changes.change()
    manager = auto.factory.user(roles=("manager",))
    linked = auto.rule(
        record_type="problem",
        trigger="updated",
        conditions={"changed": "root_cause_category", "to": "configuration"},
        actions=[{"type": "link_change", "change_id": culprit.id}],
    )
    moved = auto.rule(
        record_type="problem",
        trigger="state_changed",
        conditions={"field": "state", "value": "assessed"},
        actions=[{"type": "notify", "user_ids": [manager.id], "template": "{{ number }} assessed"}],
    )
    found = problem(auto)
    problem_flows.update(
        session=auto.session,
        problem=found,
        data=ProblemUpdate(title="VPN concentrator reboots at 02:00"),
        expected_version=found.version,
        actor=auto.agent,
    )
    assert found.caused_by_change_id is None  # updated, but not what the rule waits for
    problem_flows.update(
        session=auto.session,
        problem=found,
        data=ProblemUpdate(root_cause_category="configuration"),
        expected_version=found.version,
        actor=auto.agent,
    )
    assert found.caused_by_change_id == culprit.id
    assert counted(auto, moved).times_fired == 0
    problem_flows.transition(
        session=auto.session,
        problem=found,
        target="assessed",
        expected_version=found.version,
        actor=auto.agent,
    )
    (message,) = auto.outbox()
    assert message.recipient_user_id == manager.id
    assert (counted(auto, linked).times_fired, counted(auto, moved).times_fired) == (1, 1)


def test_publishing_a_known_error_is_an_update_rules_see(auto):
    rule = auto.rule(
        record_type="problem",
        trigger="updated",
        conditions={"changed": "known_error", "to": True},
        actions=[{"type": "set_fields", "fields": {"fix_notes": "Apply the workaround"}}],
    )
    found = problem(auto)
    problem_flows.update(
        session=auto.session,
        problem=found,
        data=ProblemUpdate(root_cause="A leaking timer"),
        expected_version=found.version,
        actor=auto.agent,
    )
    assert counted(auto, rule).times_fired == 0
    problem_flows.publish_known_error(
        session=auto.session,
        problem=found,
        expected_version=found.version,
        actor=auto.agent,
        workaround="Restart the concentrator",
    )
    assert found.fix_notes == "Apply the workaround"
    assert counted(auto, rule).times_fired == 1


def test_a_scheduled_rule_looks_at_open_problems_only(auto):
    rule = auto.rule(
        record_type="problem",
        trigger="schedule",
        every_minutes=60,
        conditions={"field": "priority", "op": "lte", "value": 2},
        actions=[{"type": "set_fields", "fields": {"category": "Urgent review"}}],
    )
    urgent, calm = problem(auto, impact=1, urgency=1), problem(auto)
    ids = automation_flows.open_record_ids(session=auto.session, record_type="problem")
    assert {urgent.id, calm.id} <= set(ids)
    now = MONDAY + timedelta(days=3650)
    for found in (urgent, calm):
        automation_flows.run_scheduled_on(
            session=auto.session, rule_id=rule.id, record_id=found.id, now=now
        )
    assert (urgent.category, calm.category) == ("Urgent review", None)
    assert counted(auto, rule).times_fired == 1


# -------------------------------------------------------------------------------- requests


@pytest.fixture
def kit(auto) -> RequestKit:
    return RequestKit(auto.session, auto.factory)


def order(kit: RequestKit, *, site: str | None = None, delivery_minutes: int = 3 * 8 * 60):
    """An order of one laptop (no approval: straight to fulfilment), with its site."""
    request = request_flows.order(
        session=kit.session,
        data=RequestCreate(
            items=[
                {
                    "catalog_item_id": kit.item(delivery_minutes=delivery_minutes).id,
                    "answers": {"model": "standard", "needed_by": "2025-07-01"},
                }
            ],
            custom_fields={"site": site} if site else None,
        ),
        actor=kit.requester,
        now=MONDAY,
    ).request
    return request


def test_a_new_request_for_a_site_is_tagged_and_its_requester_told(auto, kit):
    site_field(auto, "request")
    site_field(auto, "request", name="lane")
    rule = auto.rule(
        record_type="request",
        trigger="created",
        conditions={"any": [{"field": "cf.site", "value": "AMS-1"}, {"changed": "state"}]},
        actions=[
            {"type": "set_fields", "fields": {"cf.lane": "RTM-2"}},
            {"type": "notify", "to_requester": True, "template": "{{ number }}: {{ cf.lane }}"},
        ],
    )
    other = order(kit, site="RTM-2")
    request = order(kit, site="AMS-1")
    assert other.custom_fields == {"site": "RTM-2"}
    assert request.custom_fields == {"site": "AMS-1", "lane": "RTM-2"}
    (message,) = auto.outbox()
    assert message.recipient_user_id == kit.requester.id
    assert f"{request.number}: RTM-2" in message.body_text
    assert f"/api/v1/requests/{request.id}" in message.body_text
    (tagged,) = [e for e in rule_events(auto, "request", request, rule) if e.field == "cf.lane"]
    assert tagged.actor_label == f"rule: {rule.name}"


def test_request_updates_comments_and_state_changes_trigger_rules(auto, kit):
    site_field(auto, "request")
    watcher = auto.factory.user(roles=("manager",))

    def telling(trigger: str, **fields):
        return auto.rule(
            record_type="request",
            trigger=trigger,
            actions=[{"type": "notify", "user_ids": [watcher.id], "template": trigger}],
            **fields,
        )

    updated = telling("updated", conditions={"changed": "cf.site", "to": "AMS-1"})
    commented = telling("commented")
    ended = telling("state_changed", conditions={"field": "state", "value": "cancelled"})
    request = order(kit)
    item = request.items[0]
    request_flows.update(
        session=auto.session,
        request=request,
        data=RequestUpdate(custom_fields={"site": "AMS-1"}),
        expected_version=request.version,
        actor=kit.requester,
    )
    assert counted(auto, updated).times_fired == 1
    request_flows.update_item(
        session=auto.session,
        item=item,
        data=RequestItemUpdate(state="awaiting_requester", reason="Which colour?"),
        actor=kit.agent,
        expected_version=item.version,
        now=MONDAY,
    )
    assert counted(auto, commented).times_fired == 0
    request_flows.reply(session=auto.session, item=item, actor=kit.requester, comment="Black")
    assert counted(auto, commented).times_fired == 1
    assert counted(auto, ended).times_fired == 0
    request_flows.cancel_request(
        session=auto.session,
        request=request,
        actor=kit.requester,
        reason="Not needed after all",
        expected_version=request.version,
    )
    assert request.state == "cancelled"
    assert counted(auto, ended).times_fired == 1
    sent = auto.outbox()
    assert [message.recipient_user_id for message in sent] == [watcher.id] * 3
    assert [
        trigger in message.body_text
        for message, trigger in zip(sent, ("updated", "commented", "state_changed"), strict=True)
    ] == [True, True, True]


def test_a_request_items_delivery_clock_warns_and_breaches_the_requests_rules(auto, kit):
    warned = auto.rule(
        record_type="request",
        trigger="sla_warning",
        actions=[{"type": "notify", "to_requester": True, "template": "{{ number }} is late"}],
    )
    breached = auto.rule(
        record_type="request",
        trigger="sla_breached",
        actions=[{"type": "notify", "to_requester": True, "template": "{{ number }} breached"}],
    )
    request = order(kit, delivery_minutes=60)  # 24x7: warnings at 45 and 54 minutes
    item = request.items[0]
    request_flows.refresh_clock(
        session=auto.session, item_id=item.id, now=MONDAY + timedelta(minutes=46)
    )
    assert (counted(auto, warned).times_fired, counted(auto, breached).times_fired) == (1, 0)
    request_flows.refresh_clock(
        session=auto.session, item_id=item.id, now=MONDAY + timedelta(minutes=61)
    )
    assert (counted(auto, warned).times_fired, counted(auto, breached).times_fired) == (1, 1)
    late, breach = auto.outbox()
    assert f"{request.number} is late" in late.body_text
    assert f"{request.number} breached" in breach.body_text
    assert late.recipient_user_id == breach.recipient_user_id == kit.requester.id


def test_a_scheduled_rule_looks_at_open_requests_only(auto, kit):
    site_field(auto, "request")
    rule = auto.rule(
        record_type="request",
        trigger="schedule",
        every_minutes=60,
        conditions={
            "all": [
                {"field": "cf.site", "value": "AMS-1"},
                {"in_state": "open", "for_business_hours": 4},
            ]
        },
        actions=[{"type": "notify", "to_requester": True, "template": "Still waiting?"}],
    )
    waiting, other = order(kit, site="AMS-1"), order(kit, site="RTM-2")
    ended = order(kit, site="AMS-1")
    request_flows.cancel_request(
        session=auto.session,
        request=ended,
        actor=kit.requester,
        reason="Ordered twice",
        expected_version=ended.version,
        now=MONDAY,
    )
    ids = automation_flows.open_record_ids(session=auto.session, record_type="request")
    assert {waiting.id, other.id} <= set(ids) and ended.id not in ids
    later = MONDAY + timedelta(hours=5)
    results = [
        automation_flows.run_scheduled_on(
            session=auto.session, rule_id=rule.id, record_id=found.id, now=later
        )
        for found in (waiting, other, ended)
    ]
    assert results == [True, False, False]
    too_soon = automation_flows.run_scheduled_on(
        session=auto.session, rule_id=rule.id, record_id=waiting.id, now=MONDAY + timedelta(hours=3)
    )
    assert too_soon is False
    assert len(auto.outbox()) == 1


# --------------------------------------------------------------------------------- changes


def test_a_cab_decision_that_settles_the_round_triggers_change_rules(auto, changes):
    team = auto.factory.team(name="Release managers")
    rule = auto.rule(
        record_type="change",
        trigger="updated",
        conditions={"changed": "cab_outcome", "to": "approved"},
        actions=[{"type": "assign", "team_id": team.id}],
    )
    change = changes.move(changes.change(cis=(changes.ci(),)), "assess", "authorize")
    first, second = changes.manager(), changes.manager()
    for approver in (first, second):
        assert change.assignment_group_id != team.id
        change = change_flows.decide(
            session=auto.session,
            change=change,
            data=DecisionCreate(decision="approved", comment="fine"),
            actor=approver,
        )
    assert change.cab_outcome == "approved"
    assert change.assignment_group_id == team.id
    (assigned,) = [e for e in rule_events(auto, "change", change, rule)]
    assert assigned.actor_label == f"rule: {rule.name}"
    assert counted(auto, rule).times_fired == 1


def test_the_post_implementation_review_closing_a_change_is_a_state_change(auto, changes):
    rule = auto.rule(
        record_type="change",
        trigger="state_changed",
        conditions={"field": "state", "value": "backed_out"},
        actions=[{"type": "notify", "to_requester": True, "template": "{{ number }} backed out"}],
    )
    requester = changes.agent()
    change = changes.scheduled(changes.change(cis=[changes.ci()], requester_id=requester.id))
    change = changes.move(change, "implement", "review")
    assert counted(auto, rule).times_fired == 0
    changes.review(change, outcome="backed_out", notes="Rolled back at 02:10")
    assert change.state == "backed_out"
    (message,) = auto.outbox()
    assert message.recipient_user_id == requester.id
    assert counted(auto, rule).times_fired == 1


@pytest.mark.parametrize(
    ("record_type", "trigger"),
    [
        ("problem", "commented"),
        ("problem", "sla_breached"),
        ("change", "sla_warning"),
        ("change", "commented"),
    ],
)
def test_a_trigger_a_record_type_never_fires_is_422(auto, record_type, trigger):
    with pytest.raises(UnprocessableEntity, match=f"{trigger} never fires for {record_type}"):
        auto.rule(record_type=record_type, trigger=trigger, actions=[{"type": "stop"}])


# ------------------------------------------------------------- actions that cannot apply


@pytest.mark.parametrize(
    ("record_type", "action"),
    [
        ("problem", {"type": "comment", "template": "hi"}),
        ("problem", {"type": "link_problem", "problem_id": 1}),
        ("request", {"type": "assign", "team_id": 1}),
        ("request", {"type": "comment", "template": "hi"}),
        ("request", {"type": "link_change", "change_id": 1}),
        ("change", {"type": "comment", "template": "hi"}),
        ("change", {"type": "link_problem", "problem_id": 1}),
    ],
)
def test_an_action_a_record_type_cannot_take_is_422_when_the_rule_is_saved(
    client, headers_for, record_type, action
):
    refused = client.post(
        API,
        json={
            "name": "cannot apply",
            "record_type": record_type,
            "trigger": "created",
            "actions": [action],
        },
        headers=headers_for("admin"),
    )
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["action"] == action["type"] and body["record_type"] == record_type
    assert f"{action['type']} action does not apply to {record_type} records" in body["detail"]


def test_notify_to_nobody_the_record_type_has_is_refused(auto):
    with pytest.raises(UnprocessableEntity, match="to_assignee"):
        service.create(
            session=auto.session,
            data=RuleCreate(
                name="tell the assignee",
                record_type="request",
                trigger="created",
                actions=[{"type": "notify", "to_assignee": True, "template": "hi"}],
            ),
            actor=auto.admin,
        )


def test_fields_are_checked_against_the_record_type(auto):
    with pytest.raises(UnprocessableEntity, match="no field priority"):
        auto.rule(
            record_type="request",
            trigger="created",
            conditions={"field": "priority", "value": 1},
            actions=[{"type": "stop"}],
        )
    with pytest.raises(UnprocessableEntity):  # a request's update sets custom fields only
        auto.rule(
            record_type="request",
            trigger="created",
            actions=[{"type": "set_fields", "fields": {"justification": "x"}}],
        )
    assert "root_cause" in service.fields_of("problem")
    assert records.kind_of("request").fields() >= {"requester_id", "justification"}


# ------------------------------------------------------------------------------- dry runs


def test_the_dry_run_works_for_requests_and_problems(client, headers_for, auto, kit):
    site_field(auto, "request")
    admin = headers_for("admin")
    request_rule = client.post(
        API,
        json={
            "name": "requests at AMS-1",
            "record_type": "request",
            "trigger": "updated",
            "is_active": False,
            "conditions": {"field": "cf.site", "value": "AMS-1"},
            "actions": [{"type": "notify", "to_requester": True, "template": "{{ number }}"}],
        },
        headers=admin,
    )
    assert request_rule.status_code == 201, request_rule.text
    matching, other = order(kit, site="AMS-1"), order(kit, site="RTM-2")
    tried = client.post(
        f"{API}/{request_rule.json()['id']}/test", json={"record": matching.number}, headers=admin
    ).json()
    (verdict,) = tried["records"]
    assert verdict["matches"] is True and verdict["number"] == matching.number
    (planned,) = verdict["actions"]
    assert planned["detail"]["user_ids"] == [kit.requester.id]
    swept = client.post(f"{API}/{request_rule.json()['id']}/test", json={}, headers=admin).json()
    numbers = [found["number"] for found in swept["records"]]
    assert matching.number in numbers and other.number not in numbers

    problem_rule = client.post(
        API,
        json={
            "name": "problems caused by a change",
            "record_type": "problem",
            "trigger": "updated",
            "conditions": {"changed": "priority", "to": 1},
            "actions": [{"type": "set_fields", "fields": {"category": "Major"}}],
        },
        headers=admin,
    ).json()
    found = problem(auto)
    pretended = client.post(
        f"{API}/{problem_rule['id']}/test",
        json={"record": found.number, "changes": {"priority": [3, 1]}},
        headers=admin,
    ).json()
    assert pretended["records"][0]["matches"] is True
    assert pretended["records"][0]["actions"][0]["would"] == "set category = 'Major'"
    auto.session.refresh(found)
    assert found.category is None
    assert counted(auto, service.get(session=auto.session, rule_id=problem_rule["id"])) == (
        service.Counters()
    )
    assert (
        client.post(
            f"{API}/{problem_rule['id']}/test", json={"record": "PRB9999999"}, headers=admin
        ).status_code
        == 404
    )


def test_a_failing_request_rule_counts_a_failure_and_the_order_stands(auto, kit):
    site_field(auto, "request")
    rule = auto.rule(
        record_type="request",
        trigger="created",
        actions=[{"type": "set_fields", "fields": {"cf.site": "Nowhere"}}],
    )
    request = order(kit)
    assert request.id is not None and request.custom_fields == {}
    (failed,) = auto.runs(rule, RunOutcome.failed)
    assert "site" in str(failed.detail)
