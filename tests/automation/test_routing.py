"""Route rules: the assignment rules as the engine runs them. The first rule that matches a new
incident naming no team assigns it, before the rules of ``created`` run; route rules made through
the automation API may test any field (custom fields too) and pick by a strategy; the
assignment-rule API owns its rules, which the automation API shows with their counters."""

from datetime import UTC, datetime

import pytest

from operational.customfields import service as custom_fields
from operational.customfields.schemas import DefinitionCreate
from tests.conftest import assert_problem

RULES = "/api/v1/automation/rules"
ASSIGNMENT_RULES = "/api/v1/assignment-rules"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _route(team_id: int, **fields):
    return {
        "record_type": "incident",
        "trigger": "route",
        "actions": [{"type": "assign", "team_id": team_id, **fields.pop("assign", {})}],
        **fields,
    }


def test_the_first_matching_route_rule_wins_before_the_created_rules_run(auto):
    network, people = auto.team(members=1, name="Network")
    desk, _ = auto.team(members=1, name="Desk")
    auto.rule(**_route(desk.id, name="anything", position=50))
    auto.rule(
        **_route(
            network.id,
            name="vpn",
            position=10,
            conditions={"field": "title", "op": "mentions", "value": ["vpn"]},
        )
    )
    # A created rule sees the team the route rule chose.
    auto.rule(
        name="note network",
        trigger="created",
        conditions={"field": "assignment_group_id", "value": network.id},
        actions=[{"type": "comment", "template": "routed to network"}],
    )

    incident = auto.incident(title="VPN is down")
    assert (incident.assignment_group_id, incident.assignee_id) == (network.id, people[0].id)
    assert [comment.body for comment in auto.comments(incident)] == ["routed to network"]
    assert auto.incident(title="printer").assignment_group_id == desk.id

    assigned = auto.events(incident, kind="assigned", field="assignment_group")
    assert assigned[0].actor_label == "auto-assignment"
    assert assigned[0].data["reason"] == "assignment rule 'vpn'"


def test_a_route_rule_reads_custom_fields_and_picks_by_its_strategy(auto, session):
    custom_fields.create_definition(
        session=session,
        data=DefinitionCreate(record_type="incident", name="site", label="Site", type="text"),
        actor=auto.admin,
    )
    team, (busy, idle) = auto.team(members=2, name="Rotterdam desk")
    auto.incident(title="old", assignment_group_id=team.id, assignee_id=busy.id)
    rule = auto.rule(
        **_route(
            team.id,
            name="Rotterdam",
            conditions={"field": "cf.site", "value": "Rotterdam"},
            assign={"strategy": "least_loaded"},
        )
    )
    routed = auto.incident(title="screen flickers", custom_fields={"site": "Rotterdam"})
    assert (routed.assignment_group_id, routed.assignee_id) == (team.id, idle.id)
    assert auto.incident(title="elsewhere", custom_fields={"site": "Delft"}).assignee_id is None
    assert [run.outcome for run in auto.runs(rule)] == ["fired"]
    assert auto.runs(rule)[0].trigger == "route"


def test_a_route_rule_that_fails_is_counted_and_the_next_one_routes(auto, factory):
    team, _ = auto.team(members=1, name="Print")
    stranger = factory.user(roles=("agent",))
    failing = auto.rule(
        **_route(team.id, name="to a stranger", position=1, assign={"assignee_id": stranger.id})
    )
    fallback, _ = auto.team(members=1, name="Fallback")
    auto.rule(**_route(fallback.id, name="fallback", position=2))

    assert auto.incident(title="anything").assignment_group_id == fallback.id
    runs = auto.runs(failing)
    assert [run.outcome for run in runs] == ["failed"]
    assert "not a member" in runs[0].detail["error"]


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"actions": [{"type": "comment", "template": "x"}]}, "exactly one action"),
        (
            {
                "actions": [
                    {"type": "assign", "team_id": 0},
                    {"type": "comment", "template": "x"},
                ]
            },
            "exactly one action",
        ),
        ({"actions": [{"type": "assign", "assignee_id": 1}]}, "naming a team_id"),
        ({"record_type": "change"}, "never fires for change records"),
    ],
)
def test_a_route_rule_assigns_to_a_team_and_nothing_else(
    client, headers_for, factory, change, problem
):
    team = factory.team(name="Desk")
    body = {**_route(team.id, name="route"), **change}
    response = client.post(RULES, json=body, headers=headers_for("admin"))
    assert_problem(response, 422)
    assert problem in response.json()["detail"]


def test_assignment_rules_are_route_rules_that_their_own_api_changes(client, headers_for, factory):
    admin, manager = headers_for("admin"), headers_for("manager")
    team = factory.team(name="Network")
    factory.user(roles=("agent",), teams=(team,))
    created = client.post(
        ASSIGNMENT_RULES,
        json={"name": "VPN", "keywords": ["vpn"], "category": "Network", "team_id": team.id},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]

    shown = client.get(f"{RULES}/{rule_id}", headers=manager).json()
    assert (shown["trigger"], shown["managed_by"], shown["times_fired"]) == (
        "route",
        "assignment_rules",
        0,
    )
    assert shown["conditions"] == {
        "all": [
            {"field": "category", "op": "eq", "value": "Network"},
            {
                "any": [
                    {"field": "title", "op": "mentions", "value": ["vpn"]},
                    {"field": "description", "op": "mentions", "value": ["vpn"]},
                ]
            },
        ]
    }
    for refused in (
        client.patch(f"{RULES}/{rule_id}", json={"position": 1}, headers=admin),
        client.delete(f"{RULES}/{rule_id}", headers=admin),
    ):
        assert_problem(refused, 409)
        assert f"/api/v1/assignment-rules/{rule_id}" in refused.json()["detail"]

    raised = client.post(
        "/api/v1/incidents",
        json={"title": "VPN drops", "category": "network"},
        headers=headers_for("agent"),
    )
    assert raised.json()["assignment_group_id"] == team.id
    assert client.get(f"{RULES}/{rule_id}", headers=manager).json()["times_fired"] == 1

    tried = client.post(
        f"{RULES}/{rule_id}/test", json={"record": raised.json()["number"]}, headers=manager
    )
    assert tried.status_code == 200, tried.text
    verdict = tried.json()["records"][0]
    assert verdict["matches"] is True
    assert verdict["actions"][0]["would"] == f"assign to team {team.id} (strategy team)"

    # A plain route rule is not an assignment rule: that API neither lists nor finds it.
    plain = client.post(RULES, json=_route(team.id, name="plain"), headers=admin).json()
    listed = client.get(ASSIGNMENT_RULES, headers=admin).json()
    assert [item["id"] for item in listed["items"]] == [rule_id]
    assert_problem(client.get(f"{ASSIGNMENT_RULES}/{plain['id']}", headers=admin), 404)
    assert client.delete(f"{ASSIGNMENT_RULES}/{rule_id}", headers=admin).status_code == 204
    assert_problem(client.get(f"{RULES}/{rule_id}", headers=admin), 404)
