"""Each trigger and action of the rule engine, its order, stop processing, loop protection and
failures, on real PostgreSQL through the incident and change flows."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from operational.automation import service
from operational.automation.enums import RunOutcome
from operational.customfields import service as customfields_service
from operational.customfields.schemas import DefinitionCreate
from operational.events.models import Event
from operational.incidents import flows as incident_flows
from operational.notifications import service as notifications_service
from operational.notifications.enums import EventType, WebhookFormat
from operational.notifications.models import OutboxMessage
from operational.problems import service as problems_service
from operational.problems.schemas import ProblemCreate

T0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)  # a Monday; in the future (see tests/sla)


def counters(auto, rule) -> service.Counters:
    return service.counters(session=auto.session, rule_ids=[rule.id]).get(
        rule.id, service.Counters()
    )


# ------------------------------------------------------------------------------- triggers


def test_created_p1_on_network_goes_to_the_on_call_team_and_pages_them(auto):
    on_call, (first, second) = auto.team(members=2, name="Network on-call")
    rule = auto.rule(
        name="P1 network to on-call",
        trigger="created",
        conditions={
            "all": [
                {"field": "priority", "value": 1},
                {"field": "category", "op": "in", "value": ["Network", "VPN"]},
            ]
        },
        actions=[
            {"type": "assign", "team_id": on_call.id},
            {"type": "notify", "to_team": True, "template": "P1 {{ number }}: {{ title }}"},
        ],
    )
    other = auto.incident(impact=1, urgency=1, category="Printing")
    incident = auto.incident(impact=1, urgency=1, category="network")

    assert other.assignment_group_id != on_call.id
    assert incident.assignment_group_id == on_call.id
    assert incident.assignee_id in (first.id, second.id)
    assigned = auto.events(incident, kind="assigned")
    assert assigned
    assert all(event.actor_label == "rule: P1 network to on-call" for event in assigned)
    assert all(event.data["rule_id"] == rule.id for event in assigned)
    (noted,) = auto.events(incident, kind="notified")
    assert noted.actor_label == "rule: P1 network to on-call"
    paged = auto.outbox()
    assert {message.recipient_user_id for message in paged} == {first.id, second.id}
    assert f"P1 {incident.number}: VPN down in Rotterdam" in paged[0].body_text
    counted = counters(auto, rule)
    assert (counted.times_fired, counted.failures) == (1, 0)
    assert counted.last_fired_at is not None


def test_updated_fires_on_what_changed_only(auto):
    rule = auto.rule(
        trigger="updated",
        conditions={"changed": "priority", "to": 1},
        actions=[
            {"type": "comment", "template": "Now P{{ priority }} (was P{{ changes.priority.old }})"}
        ],
    )
    incident = auto.incident(impact=3, urgency=3)
    auto.update(incident, title="VPN down for everyone")
    auto.update(incident, impact=2, urgency=2)  # P3: changed, but not to 1
    assert auto.comments(incident) == []
    auto.update(incident, impact=1, urgency=1)
    (note,) = auto.comments(incident)
    assert note.body == "Now P1 (was P3)" and not note.is_public and note.author_id is None
    (event,) = auto.events(incident, kind="work_note_added")
    assert event.actor_label == f"rule: {rule.name}" and event.data["rule_id"] == rule.id
    assert counters(auto, rule).times_fired == 1


def test_commented_by_the_caller_takes_the_ticket_off_hold(auto):
    requester = auto.factory.user(roles=("requester",))
    auto.rule(
        trigger="commented",
        conditions={
            "all": [
                {"field": "state", "value": "on_hold"},
                {"field": "hold_reason", "value": "awaiting_caller"},
            ]
        },
        actions=[{"type": "set_fields", "fields": {"state": "in_progress"}}],
    )
    incident = auto.incident(requester_id=requester.id, assignee_id=auto.agent.id)
    auto.update(incident, state="in_progress")
    auto.update(incident, state="on_hold", hold_reason="awaiting_caller")
    incident_flows.add_comment(
        session=auto.session,
        incident=incident,
        actor=requester,
        body="Here is the log you asked for",
    )
    assert incident.state == "in_progress"
    (moved,) = [
        e
        for e in auto.events(incident, kind="state_changed")
        if e.new_value == "in_progress" and e.actor_label.startswith("rule:")
    ]
    assert moved.actor_id is None


def test_a_work_note_saying_outage_raises_the_priority_and_a_public_one_does_not(auto):
    rule = auto.rule(
        trigger="commented",
        conditions={
            "all": [
                {"field": "comment.body", "op": "contains", "value": "OUTAGE"},
                {"field": "comment.public", "value": False},
            ]
        },
        actions=[{"type": "set_fields", "fields": {"impact": 1, "urgency": 1}}],
    )
    incident = auto.incident(impact=3, urgency=3, assignee_id=auto.agent.id)
    for body, public in (("Is this an outage?", True), ("Nothing to see", False)):
        incident_flows.add_comment(
            session=auto.session, incident=incident, actor=auto.agent, body=body, is_public=public
        )
    assert incident.priority == 5 and counters(auto, rule).times_fired == 0
    incident_flows.add_comment(
        session=auto.session,
        incident=incident,
        actor=auto.agent,
        body="Confirmed outage for all sites",
        is_public=False,
    )
    assert incident.priority == 1 and counters(auto, rule).times_fired == 1


def test_state_changed_fires_when_the_state_moves(auto):
    requester = auto.factory.user(roles=("requester",))
    rule = auto.rule(
        trigger="state_changed",
        conditions={"field": "state", "value": "on_hold"},
        actions=[
            {"type": "notify", "to_requester": True, "template": "{{ number }} waits for you"}
        ],
    )
    incident = auto.incident(requester_id=requester.id, assignee_id=auto.agent.id)
    auto.update(incident, title="VPN down for all of Rotterdam")  # updated, no state change
    auto.update(incident, state="in_progress")  # a state change the condition refuses
    assert counters(auto, rule).times_fired == 0
    auto.update(incident, state="on_hold", hold_reason="awaiting_caller")
    (message,) = auto.outbox()
    assert message.recipient_user_id == requester.id
    assert f"{incident.number} waits for you" in message.body_text


def test_sla_breach_and_warning_trigger_rules(auto, sla):
    sla.policy(response=600, resolution=60)
    breached = auto.rule(
        trigger="sla_breached",
        actions=[{"type": "comment", "template": "Resolution target breached on {{ number }}"}],
    )
    warned = auto.rule(
        trigger="sla_warning", actions=[{"type": "set_fields", "fields": {"location": "escalated"}}]
    )
    incident = sla.incident(opened_at=T0)
    incident_flows.process_sla(
        session=auto.session, incident_id=incident.id, now=T0.replace(minute=50)
    )
    assert counters(auto, warned).times_fired == 1  # 75 % of 60 minutes
    assert counters(auto, breached).times_fired == 0
    incident_flows.process_sla(
        session=auto.session, incident_id=incident.id, now=T0.replace(hour=9, minute=1)
    )
    assert [c.body for c in auto.comments(incident)] == [
        f"Resolution target breached on {incident.number}"
    ]
    assert incident.location == "escalated"


# --------------------------------------------------------------------------------- actions


def test_assign_by_least_loaded_strategy_and_to_a_person(auto):
    team, (busy, idle) = auto.team(members=2)
    for _ in range(2):
        auto.incident(assignment_group_id=team.id, assignee_id=busy.id)
    auto.rule(
        trigger="created",
        conditions={"field": "category", "value": "Database"},
        actions=[{"type": "assign", "team_id": team.id, "strategy": "least_loaded"}],
    )
    auto.rule(
        trigger="created",
        conditions={"field": "category", "value": "Payroll"},
        actions=[{"type": "assign", "team_id": team.id, "assignee_id": busy.id}],
    )
    assert auto.incident(category="Database").assignee_id == idle.id
    assert auto.incident(category="Payroll").assignee_id == busy.id


def test_link_to_a_problem(auto):
    problem = problems_service.create(
        session=auto.session, data=ProblemCreate(title="VPN concentrator reboots"), actor=auto.agent
    )
    rule = auto.rule(
        trigger="created",
        conditions={"field": "service", "value": "VPN"},
        actions=[{"type": "link_problem", "problem_id": problem.id}],
    )
    incident = auto.incident(service="VPN")
    assert incident.problem_id == problem.id
    linked = [e for e in auto.events(incident) if e.data and e.data.get("rule_id") == rule.id]
    assert linked


def test_a_failing_action_undoes_the_rule_and_counts_a_failure(auto, changes):
    unimplemented = changes.change()  # new: it cannot have caused anything yet
    rule = auto.rule(
        trigger="created",
        actions=[
            {"type": "comment", "template": "linking to the change"},
            {"type": "link_change", "change_id": unimplemented.id},
        ],
    )
    incident = auto.incident()
    assert incident.id is not None  # the change that triggered it stands
    assert auto.comments(incident) == []  # the rule's first action was undone with it
    assert incident.caused_by_change_id is None
    (failed,) = auto.runs(rule, RunOutcome.failed)
    assert "implemented" in failed.detail["error"]
    assert (counters(auto, rule).failures, counters(auto, rule).times_fired) == (1, 0)


def test_webhook_goes_through_the_notifications_delivery(auto, settings_env):
    settings_env(webhooks_allow_private="true")
    hook, _secret = notifications_service.create_webhook(
        session=auto.session,
        name="chatops",
        url="http://127.0.0.1:9/hook",
        format=WebhookFormat.generic,
        event_types=[EventType.incident_resolved],
        actor=auto.admin,
    )
    auto.rule(
        trigger="created",
        actions=[{"type": "webhook", "webhook_id": hook.id, "template": "New {{ number }}"}],
    )
    incident = auto.incident()
    (message,) = auto.session.scalars(
        select(OutboxMessage).where(OutboxMessage.webhook_id == hook.id)
    ).all()
    assert message.event_type == "automation.notice" and message.channel == "webhook"
    assert message.payload["data"]["message"] == f"New {incident.number}"


def _site_field(auto, **fields):
    return customfields_service.create_definition(
        session=auto.session,
        data=DefinitionCreate(
            record_type="incident",
            name="site",
            label="Site",
            type="choice",
            allowed_values=["AMS-1", "RTM-2"],
            **fields,
        ),
        actor=auto.admin,
    )


def test_custom_fields_are_set_through_the_incidents_update_with_their_event(auto):
    _site_field(auto, requester_visible=False)  # rules may set fields requesters never see
    rule = auto.rule(
        trigger="created", actions=[{"type": "set_fields", "fields": {"cf.site": "AMS-1"}}]
    )
    incident = auto.incident()
    auto.session.refresh(incident)
    assert incident.custom_fields == {"site": "AMS-1"}
    (event,) = auto.session.scalars(
        select(Event).where(
            Event.entity_type == "incident",
            Event.entity_id == incident.id,
            Event.field == "cf.site",
        )
    ).all()
    assert (event.new_value, event.actor_label) == ("AMS-1", f"rule: {rule.name}")
    assert event.data["rule_id"] == rule.id


def test_a_custom_field_value_the_field_refuses_fails_the_rule(auto):
    _site_field(auto)
    rule = auto.rule(
        trigger="created", actions=[{"type": "set_fields", "fields": {"cf.site": "Nowhere"}}]
    )
    incident = auto.incident()
    auto.session.refresh(incident)
    (failed,) = auto.runs(rule, RunOutcome.failed)
    assert "cf.site" in str(failed.detail)
    assert incident.custom_fields == {}  # the rule's savepoint undid it; the incident stays


def test_change_records_run_their_rules(auto, changes):
    manager = auto.factory.user(roles=("manager",))
    rule = auto.rule(
        record_type="change",
        trigger="updated",
        conditions={"changed": "title"},
        actions=[
            {"type": "set_fields", "fields": {"justification": "Set by {{ rule_name }}"}},
            {"type": "notify", "user_ids": [manager.id], "template": "{{ number }} renamed"},
        ],
    )
    from operational.changes import flows as change_flows
    from operational.changes.schemas import ChangeUpdate

    change = changes.change()
    change_flows.update(
        session=auto.session,
        change=change,
        data=ChangeUpdate(title="Patch the web servers tonight"),
        expected_version=change.version,
        actor=auto.agent,
    )
    assert change.justification == "Set by {{ rule_name }}"  # set_fields values are literal
    (message,) = auto.outbox()
    assert message.recipient_user_id == manager.id
    assert counters(auto, rule).times_fired == 1


# ------------------------------------------------------------------- order, stop, loops


def test_rules_run_in_order_and_stop_processing_stops(auto):
    auto.rule(position=20, trigger="created", actions=[{"type": "comment", "template": "second"}])
    first = auto.rule(
        position=10, trigger="created", actions=[{"type": "comment", "template": "first"}]
    )
    incident = auto.incident()
    assert [c.body for c in auto.comments(incident)] == ["first", "second"]

    first.stop_processing = True
    auto.session.flush()
    incident = auto.incident()
    assert [c.body for c in auto.comments(incident)] == ["first"]


def test_a_stop_action_stops_the_rules_after_it(auto):
    auto.rule(position=20, trigger="created", actions=[{"type": "comment", "template": "later"}])
    auto.rule(
        position=10,
        trigger="created",
        actions=[{"type": "comment", "template": "now"}, {"type": "stop"}],
    )
    assert [c.body for c in auto.comments(auto.incident())] == ["now"]


def test_a_rule_never_triggers_itself(auto):
    rule = auto.rule(
        trigger="updated",
        actions=[{"type": "set_fields", "fields": {"description": "touched"}}],
    )
    incident = auto.incident()
    auto.update(incident, title="something else")
    assert incident.description == "touched"
    assert len(auto.runs(rule)) == 1  # its own update did not run it again
    assert counters(auto, rule).loops_cut == 0


def test_chains_are_cut_at_the_maximum_depth_and_reported(auto):
    def relay(position, when, sets, value):
        return auto.rule(
            name=f"relay {when}",
            position=position,
            trigger="updated",
            conditions={"changed": when},
            actions=[{"type": "set_fields", "fields": {sets: value}}],
        )

    relay(1, "title", "location", "A")
    relay(2, "location", "subcategory", "B")
    relay(3, "subcategory", "service", "C")
    last = relay(4, "service", "description", "D")
    incident = auto.incident()
    auto.update(incident, title="a new title")
    assert (incident.location, incident.subcategory, incident.service) == ("A", "B", "C")
    assert incident.description != "D"
    (cut,) = auto.events(incident, kind="automation_loop_cut")
    assert cut.data["rule_id"] == last.id and len(cut.data["chain"]) == 3
    assert counters(auto, last).loops_cut == 1


@pytest.mark.parametrize("inactive", [True])
def test_inactive_rules_do_not_run(auto, inactive):
    auto.rule(
        trigger="created", is_active=not inactive, actions=[{"type": "comment", "template": "x"}]
    )
    assert auto.comments(auto.incident()) == []


def test_after_a_failed_rule_only_real_changes_trigger_rules(auto, changes):
    unimplemented = changes.change()
    auto.rule(
        position=1,
        trigger="created",
        actions=[{"type": "link_change", "change_id": unimplemented.id}],
    )
    auto.rule(
        position=2,
        trigger="created",
        actions=[{"type": "set_fields", "fields": {"location": "Rotterdam"}}],
    )
    on_title = auto.rule(
        trigger="updated",
        conditions={"changed": "title"},
        actions=[{"type": "comment", "template": "title changed"}],
    )
    on_location = auto.rule(
        trigger="updated",
        conditions={"changed": "location", "to": "Rotterdam"},
        actions=[{"type": "comment", "template": "location set"}],
    )
    incident = auto.incident()
    assert incident.location == "Rotterdam"
    assert [c.body for c in auto.comments(incident)] == ["location set"]
    assert auto.runs(on_title) == [] and len(auto.runs(on_location)) == 1


def test_a_change_moving_state_runs_its_state_changed_rules(auto, changes):
    from operational.changes import flows as change_flows
    from operational.changes.enums import ChangeState

    manager = auto.factory.user(roles=("manager",))
    rule = auto.rule(
        record_type="change",
        trigger="state_changed",
        conditions={"changed": "state", "from": "new", "to": "assess"},
        actions=[
            {"type": "notify", "user_ids": [manager.id], "template": "{{ number }} to assess"}
        ],
    )
    change = changes.change()
    moved = change_flows.transition(
        session=auto.session,
        change=change,
        target=ChangeState.assess,
        expected_version=change.version,
        actor=auto.agent,
    )
    (message,) = auto.outbox()
    assert f"{moved.number} to assess" in message.body_text
    assert counters(auto, rule).times_fired == 1
