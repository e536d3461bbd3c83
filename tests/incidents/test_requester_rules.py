"""What a requester may set when raising an incident (docs/incidents.md, "What requesters may
set"): the description of their trouble, and impact and urgency only as a suggestion that an
agent confirms. The priority is never theirs to choose."""

import pytest

URL = "/api/v1/incidents"
DESCRIBED = {
    "title": "Payroll export fails",
    "description": "Since this morning",
    "category": "Software",
    "subcategory": "Payroll",
    "service": "Payroll",
    "configuration_item": "payroll-app",
    "location": "Utrecht",
}


@pytest.fixture
def agent_headers(factory, incidents):
    return factory.auth_headers(incidents.agent())


def test_a_requesters_impact_and_urgency_are_a_suggestion_an_agent_confirms(
    client, factory, agent_headers
):
    requester = factory.auth_headers(factory.user(roles=("requester",)))
    raised = client.post(URL, json={**DESCRIBED, "impact": 1, "urgency": 1}, headers=requester)
    assert raised.status_code == 201, raised.text
    incident = raised.json()
    assert {name: incident[name] for name in DESCRIBED} == DESCRIBED
    assert (incident["suggested_impact"], incident["suggested_urgency"]) == (1, 1)
    assert (incident["impact"], incident["urgency"], incident["priority"]) == (3, 3, 5)

    seen = client.get(f"{URL}/{incident['id']}", headers=agent_headers).json()
    assert (seen["suggested_impact"], seen["suggested_urgency"]) == (1, 1)
    confirmed = client.patch(
        f"{URL}/{incident['id']}",
        json={"impact": 1, "urgency": 1},
        headers={**agent_headers, "If-Match": '"1"'},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["priority"] == 1


def test_an_agent_sets_impact_and_urgency_directly(client, agent_headers):
    incident = client.post(
        URL, json={"title": "Core switch down", "impact": 1, "urgency": 1}, headers=agent_headers
    ).json()
    assert (incident["priority"], incident["suggested_impact"]) == (1, None)


def test_a_requester_sets_neither_priority_nor_routing_nor_channel(client, factory):
    requester_user = factory.user(roles=("requester",))
    requester = factory.auth_headers(requester_user)
    team = factory.team()
    for refused in (
        {"priority": 1, "priority_reason": "urgent for me"},
        {"assignment_group_id": team.id},
        {"assignee_id": requester_user.id},
        {"channel": "phone"},
    ):
        response = client.post(URL, json={"title": "x", **refused}, headers=requester)
        assert response.status_code == 403, (refused, response.text)
    # Nor change anything afterwards: updates need incident:write.
    mine = client.post(URL, json={"title": "mine"}, headers=requester).json()
    patched = client.patch(
        f"{URL}/{mine['id']}", json={"urgency": 1}, headers={**requester, "If-Match": '"1"'}
    )
    assert patched.status_code == 403
