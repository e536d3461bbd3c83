from datetime import UTC, datetime, timedelta

import pytest

from operational.incidents import flows
from operational.incidents.exceptions import AssigneeNotInTeam

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _names(incidents_list, agents):
    by_id = {agent.id: name for name, agent in agents.items()}
    return [by_id.get(incident.assignee_id) for incident in incidents_list]


def test_rules_route_by_category_service_and_keywords_in_order(incidents):
    network, printing, email, fallback = (incidents.team() for _ in range(4))
    incidents.rule(team=fallback, position=900)
    incidents.rule(team=printing, category="printing", position=10)
    incidents.rule(team=email, service="Exchange Online", position=20)
    incidents.rule(team=network, keywords=["VPN", "wi-fi"], position=30)
    incidents.rule(team=email, category="printing", position=5, is_active=False)

    assert incidents.incident(category="Printing").assignment_group_id == printing.id
    assert incidents.incident(service="exchange online").assignment_group_id == email.id
    assert incidents.incident(title="VPN drops every hour").assignment_group_id == network.id
    assert (
        incidents.incident(title="Slow", description="The Wi-Fi on floor 2").assignment_group_id
        == network.id
    )
    # Keywords match whole words only: "vpnclient" is not "vpn".
    assert incidents.incident(title="vpnclient crashed").assignment_group_id == fallback.id


def test_a_rule_with_several_criteria_needs_all_of_them(incidents):
    team, fallback = incidents.team(), incidents.team()
    incidents.rule(team=team, category="Hardware", keywords=["laptop"], position=1)
    incidents.rule(team=fallback, position=2)
    assert incidents.incident(category="Hardware", title="Laptop fan").assignment_group_id == (
        team.id
    )
    assert incidents.incident(category="Hardware", title="Monitor").assignment_group_id == (
        fallback.id
    )


def test_rule_assignment_is_recorded_with_the_rule(incidents):
    team = incidents.team()
    anna = incidents.agent(teams=(team,))
    rule = incidents.rule(team=team, category="Printing")
    incident = incidents.incident(actor=incidents.requester(), category="Printing")
    assigned = [e for e in incidents.events(incident) if e.kind == "assigned"]
    assert [(e.field, e.new_value) for e in assigned] == [
        ("assignment_group", team.name),
        ("assignee", anna.display_name),
    ]
    for event in assigned:
        assert event.data["rule_id"] == rule.id
        assert (event.actor_id, event.actor_label) == (None, "auto-assignment")
    assert assigned[0].data["new_id"] == team.id
    assert assigned[1].data["new_id"] == anna.id
    assert assigned[1].data["picked_by"] == "round_robin"
    assert incident.state == "assigned"


def test_round_robin_rotates_and_skips_unavailable_members(incidents):
    team = incidents.team(strategy="round_robin")
    agents = {name: incidents.agent(teams=(team,)) for name in ("a", "b", "c")}
    incidents.rule(team=team)
    first = [incidents.incident(now=T0 + timedelta(minutes=i)) for i in range(4)]
    assert _names(first, agents) == ["a", "b", "c", "a"]

    incidents.set_available(team, agents["b"], False)
    later = [incidents.incident(now=T0 + timedelta(minutes=10 + i)) for i in range(3)]
    assert _names(later, agents) == ["c", "a", "c"]


def test_least_loaded_picks_the_member_with_fewest_open_incidents(incidents, session):
    team = incidents.team(strategy="least_loaded")
    agents = {name: incidents.agent(teams=(team,)) for name in ("a", "b", "c")}
    lead = incidents.agent()
    # a carries 2 open incidents, b carries 1 open and 1 resolved, c carries none.
    for name, count in (("a", 2), ("b", 1)):
        for _ in range(count):
            incidents.incident(actor=lead, assignment_group_id=team.id, assignee_id=agents[name].id)
    incidents.resolved(actor=agents["b"])
    incidents.rule(team=team)

    picked = [incidents.incident(actor=lead) for _ in range(4)]
    # Loads (a, b, c): (2, 1, 0) -> c; (2, 1, 1) -> b (rotation breaks the tie with c: b was
    # assigned before c); (2, 2, 1) -> c; (2, 2, 2) -> a, assigned longest ago.
    assert _names(picked, agents) == ["c", "b", "c", "a"]


def test_people_who_cannot_work_incidents_or_are_inactive_are_never_picked(incidents, factory):
    team = incidents.team()
    factory.user(roles=("requester",), teams=(team,))
    incidents.agent(teams=(team,), is_active=False)
    worker = incidents.agent(teams=(team,))
    incidents.rule(team=team)
    assert {incidents.incident().assignee_id for _ in range(3)} == {worker.id}


def test_without_anyone_available_the_incident_waits_in_the_team_queue(incidents):
    team = incidents.team()
    away = incidents.agent(teams=(team,))
    incidents.set_available(team, away, False)
    incidents.rule(team=team)
    incident = incidents.incident()
    assert (incident.assignment_group_id, incident.assignee_id) == (team.id, None)
    assert incident.state == "new"


def test_no_matching_rule_leaves_the_incident_unassigned(incidents):
    incidents.rule(team=incidents.team(), category="Network")
    incident = incidents.incident(category="Printing")
    assert (incident.assignment_group_id, incident.assignee_id, incident.state) == (
        None,
        None,
        "new",
    )


def test_assign_to_a_team_lets_its_strategy_pick(incidents, session):
    first, second = incidents.team(), incidents.team()
    anna = incidents.agent(teams=(first,))
    bob = incidents.agent(teams=(second,))
    incident = incidents.incident(assignment_group_id=first.id)
    assert incident.assignee_id == anna.id
    flows.assign(session=session, incident=incident, actor=None, team_id=second.id, reason="L2")
    assert (incident.assignment_group_id, incident.assignee_id) == (second.id, bob.id)
    # Escalation by the system (an SLA rule, not an assignment rule).
    assert incident.escalated is True
    assert incident.reassignment_count == 1
    assert (incident.first_assignment_group_id, incident.first_assignee_id) == (first.id, anna.id)


def test_reassignment_count_counts_changes_after_the_first_assignment(incidents, session):
    team, other = incidents.team(), incidents.team()
    anna, bob = incidents.agent(teams=(team,)), incidents.agent(teams=(team,))
    carl = incidents.agent(teams=(other,))
    lead = incidents.agent()
    incident = incidents.incident(actor=lead, assignment_group_id=team.id, assignee_id=None)
    # The strategy picked anna in the same step as the team: one first assignment.
    assert (incident.assignee_id, incident.reassignment_count) == (anna.id, 0)
    flows.assign(session=session, incident=incident, actor=lead, assignee_id=bob.id)
    assert incident.reassignment_count == 1
    flows.assign(
        session=session, incident=incident, actor=lead, team_id=other.id, assignee_id=carl.id
    )
    assert incident.reassignment_count == 2
    # Same team and person again: nothing changes, nothing is recorded.
    before = len(incidents.events(incident))
    flows.assign(session=session, incident=incident, actor=lead, team_id=other.id)
    assert (incident.reassignment_count, len(incidents.events(incident))) == (2, before)
    assert incident.escalated is False


def test_picking_up_from_the_queue_is_not_a_reassignment(incidents, session):
    team = incidents.team()
    anna = incidents.agent(teams=(team,))
    incidents.set_available(team, anna, False)
    incident = incidents.incident(assignment_group_id=team.id)
    assert incident.assignee_id is None
    flows.assign(session=session, incident=incident, actor=anna, assignee_id=anna.id)
    assert (incident.assignee_id, incident.reassignment_count) == (anna.id, 0)
    assert incident.first_assignee_id == anna.id


def test_assignee_must_belong_to_the_team(incidents, session):
    team = incidents.team()
    outsider = incidents.agent()
    incident = incidents.incident(assignment_group_id=team.id)
    with pytest.raises(AssigneeNotInTeam):
        flows.assign(session=session, incident=incident, actor=outsider, assignee_id=outsider.id)
