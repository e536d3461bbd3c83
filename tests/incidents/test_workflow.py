from datetime import UTC, datetime, timedelta

import pytest

from operational.core.errors import InvalidTransition, UnprocessableEntity
from operational.incidents import flows
from operational.incidents.exceptions import ReopenWindowClosed
from operational.incidents.schemas import IncidentUpdate

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _move(session, incident, actor, state, *, at=None, **fields):
    return flows.transition(
        session=session, incident=incident, actor=actor, state=state, now=at, **fields
    )


def test_the_whole_workflow_with_its_timestamps(incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, now=T0)
    assert (incident.state, incident.version) == ("new", 1)

    flows.assign(
        session=session,
        incident=incident,
        actor=agent,
        assignee_id=agent.id,
        now=T0 + timedelta(minutes=5),
    )
    assert incident.state == "assigned"
    _move(session, incident, agent, "in_progress", at=T0 + timedelta(minutes=10))
    _move(
        session,
        incident,
        agent,
        "on_hold",
        hold_reason="awaiting_caller",
        at=T0 + timedelta(minutes=20),
    )
    assert incident.hold_reason == "awaiting_caller"
    _move(session, incident, agent, "in_progress", at=T0 + timedelta(minutes=50))
    assert incident.hold_reason is None
    _move(
        session,
        incident,
        agent,
        "resolved",
        resolution_code="solved_remotely",
        resolution_notes="Cleared the queue",
        at=T0 + timedelta(hours=1),
    )
    assert incident.resolved_at == incident.first_resolved_at == T0 + timedelta(hours=1)
    assert incident.resolved_by_id == agent.id
    _move(session, incident, agent, "closed", at=T0 + timedelta(days=1))
    assert incident.closed_at == T0 + timedelta(days=1)
    # Assignment to a person by a person is the first response.
    assert incident.acknowledged_at == T0 + timedelta(minutes=5)
    assert incident.version == 7

    states = [
        (event.old_value, event.new_value)
        for event in incidents.events(incident)
        if event.kind == "state_changed"
    ]
    assert states == [
        ("new", "assigned"),
        ("assigned", "in_progress"),
        ("in_progress", "on_hold"),
        ("on_hold", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("new", "resolved", ["assigned", "in_progress", "cancelled"]),
        ("new", "on_hold", ["assigned", "in_progress", "cancelled"]),
        ("in_progress", "new", ["on_hold", "resolved", "cancelled"]),
        ("resolved", "on_hold", ["closed", "in_progress"]),
        ("closed", "in_progress", []),
        ("cancelled", "new", []),
    ],
)
def test_illegal_transition_names_the_allowed_ones(incidents, session, start, target, allowed):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent)
    path = {
        "new": [],
        "in_progress": [("in_progress", {})],
        "resolved": [("resolved", {})],
        "closed": [("resolved", {}), ("closed", {})],
        "cancelled": [("cancelled", {})],
    }[start]
    if path and path[0][0] != "cancelled":
        flows.assign(session=session, incident=incident, actor=agent, assignee_id=agent.id)
    for state, _ in path:
        _move(
            session,
            incident,
            agent,
            state,
            resolution_code="duplicate" if state == "resolved" else None,
            resolution_notes="Same as INC0000001" if state == "resolved" else None,
        )
    assert incident.state == start
    with pytest.raises(InvalidTransition) as raised:
        _move(session, incident, agent, target)
    assert raised.value.extra["allowed"] == allowed
    assert incident.state == start


def test_on_hold_needs_a_reason_and_resolving_needs_code_and_notes(incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, assignee_id=agent.id)
    with pytest.raises(UnprocessableEntity, match="hold_reason"):
        _move(session, incident, agent, "on_hold")
    with pytest.raises(UnprocessableEntity, match="resolution_code"):
        _move(session, incident, agent, "resolved")
    with pytest.raises(UnprocessableEntity, match="resolution"):
        _move(session, incident, agent, "resolved", resolution_code="solved_permanently")
    assert incident.state == "assigned"


def test_working_an_incident_needs_an_assignee(incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent)
    with pytest.raises(UnprocessableEntity, match="Assign someone"):
        _move(session, incident, agent, "in_progress")
    # The same PATCH may assign and start work: assignment first, then the state.
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(assignee_id=agent.id, state="in_progress"),
        actor=agent,
        expected_version=1,
    )
    assert (incident.state, incident.assignee_id, incident.version) == ("in_progress", agent.id, 2)


def test_requester_reopens_within_the_window_with_a_comment(incidents, session):
    agent, requester = incidents.agent(), incidents.requester()
    incident = incidents.resolved(actor=agent, requester_id=requester.id, now=T0)
    flows.reopen(
        session=session,
        incident=incident,
        actor=requester,
        reason="Still jams",
        now=T0 + timedelta(days=6, hours=23),
    )
    assert (incident.state, incident.reopen_count, incident.resolved_at) == ("in_progress", 1, None)
    assert incident.first_resolved_at == T0
    last_two = incidents.events(incident)[-2:]
    assert [(e.kind, e.new_value) for e in last_two] == [
        ("comment_added", "Still jams"),
        ("state_changed", "in_progress"),
    ]
    assert last_two[1].data["reopen"] is True
    assert last_two[1].actor_id == requester.id


def test_requester_cannot_reopen_after_the_window_but_an_agent_can(incidents, session):
    agent, requester = incidents.agent(), incidents.requester()
    incident = incidents.resolved(actor=agent, requester_id=requester.id, now=T0)
    late = T0 + timedelta(days=7, seconds=1)
    with pytest.raises(ReopenWindowClosed) as raised:
        flows.reopen(session=session, incident=incident, actor=requester, reason="Again", now=late)
    assert raised.value.extra["reopen_deadline"] == (T0 + timedelta(days=7)).isoformat()
    assert incident.state == "resolved"
    flows.reopen(session=session, incident=incident, actor=agent, reason="Again", now=late)
    assert incident.state == "in_progress"


def test_reopen_window_is_configurable(incidents, session, settings_env):
    settings_env(incident_reopen_window_days="1")
    agent, requester = incidents.agent(), incidents.requester()
    incident = incidents.resolved(actor=agent, requester_id=requester.id, now=T0)
    with pytest.raises(ReopenWindowClosed):
        flows.reopen(
            session=session,
            incident=incident,
            actor=requester,
            reason="Again",
            now=T0 + timedelta(days=1, minutes=1),
        )


def test_closed_incidents_cannot_be_reopened(incidents, session):
    agent = incidents.agent()
    incident = incidents.resolved(actor=agent, now=T0)
    _move(session, incident, agent, "closed", at=T0 + timedelta(hours=1))
    with pytest.raises(InvalidTransition) as raised:
        flows.reopen(session=session, incident=incident, actor=agent, reason="Again")
    assert raised.value.extra["allowed"] == []


def test_auto_close_closes_only_incidents_resolved_long_enough_ago(incidents, session):
    agent = incidents.agent()
    old = incidents.resolved(actor=agent, now=T0)
    recent = incidents.resolved(actor=agent, now=T0 + timedelta(days=2))
    still_open = incidents.incident(actor=agent, now=T0)
    now = T0 + timedelta(days=7, hours=1)

    assert flows.close_resolved_incidents(session=session, now=now) == 1
    assert (old.state, old.closed_at) == ("closed", now)
    assert recent.state == "resolved"
    assert still_open.state == "new"
    closing = incidents.events(old)[-1]
    assert (closing.kind, closing.old_value, closing.new_value) == (
        "state_changed",
        "resolved",
        "closed",
    )
    assert (closing.actor_id, closing.actor_label, closing.data["auto_close"]) == (
        None,
        "system",
        True,
    )
    # Running again closes nothing more until the next one is due.
    assert flows.close_resolved_incidents(session=session, now=now) == 0
    assert flows.close_resolved_incidents(session=session, now=now + timedelta(days=2)) == 1
    assert recent.state == "closed"


def test_auto_close_delay_is_configurable(incidents, session, settings_env):
    settings_env(incident_auto_close_days="2")
    incident = incidents.resolved(actor=incidents.agent(), now=T0)
    assert flows.close_resolved_incidents(session=session, now=T0 + timedelta(days=1)) == 0
    assert flows.close_resolved_incidents(session=session, now=T0 + timedelta(days=2)) == 1
    assert incident.state == "closed"


def test_first_response_is_the_first_agent_touch(incidents, session):
    team = incidents.team()
    agent = incidents.agent(teams=(team,))
    requester = incidents.requester()
    incidents.rule(team=team, category="Printing")
    incident = incidents.incident(
        actor=requester, category="Printing", now=T0
    )  # auto-assigned to the agent: no human touched it yet
    assert incident.assignee_id == agent.id
    assert incident.acknowledged_at is None
    flows.add_comment(
        session=session,
        incident=incident,
        actor=requester,
        body="Any news?",
        now=T0 + timedelta(minutes=1),
    )
    flows.add_comment(
        session=session,
        incident=incident,
        actor=agent,
        body="Checked the logs",
        is_public=False,
        now=T0 + timedelta(minutes=2),
    )
    assert incident.acknowledged_at is None
    flows.add_comment(
        session=session,
        incident=incident,
        actor=agent,
        body="Looking at it",
        now=T0 + timedelta(minutes=3),
    )
    assert incident.acknowledged_at == T0 + timedelta(minutes=3)
    last = incidents.events(incident)[-1]
    assert (last.kind, last.data["first_response"]) == ("comment_added", True)
    _move(session, incident, agent, "in_progress", at=T0 + timedelta(minutes=9))
    assert incident.acknowledged_at == T0 + timedelta(minutes=3)


def test_moving_to_in_progress_is_a_first_response(incidents, session):
    agent = incidents.agent()
    team = incidents.team()
    colleague = incidents.agent(teams=(team,))
    incident = incidents.incident(actor=agent, assignment_group_id=team.id, now=T0)
    # Picked by the team's strategy, not by a person: not yet a response.
    assert incident.assignee_id == colleague.id
    assert incident.acknowledged_at is None
    _move(session, incident, colleague, "in_progress", at=T0 + timedelta(minutes=7))
    assert incident.acknowledged_at == T0 + timedelta(minutes=7)


def test_hold_reason_changes_while_on_hold_but_never_empties(incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, assignee_id=agent.id)
    _move(session, incident, agent, "on_hold", hold_reason="awaiting_vendor")
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(hold_reason="awaiting_change"),
        actor=agent,
        expected_version=incident.version,
    )
    assert incident.hold_reason == "awaiting_change"
    change = incidents.events(incident)[-1]
    assert (change.field, change.old_value, change.new_value) == (
        "hold_reason",
        "awaiting_vendor",
        "awaiting_change",
    )
    with pytest.raises(UnprocessableEntity, match="needs a hold_reason"):
        flows.update(
            session=session,
            incident=incident,
            data=IncidentUpdate(hold_reason=None),
            actor=agent,
            expected_version=incident.version,
        )
    assert incident.hold_reason == "awaiting_change"
