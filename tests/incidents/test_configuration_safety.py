"""Assignment and escalation rules cannot break the service (issue 12): a rule whose team has
gone inactive or has nobody to work is passed over or waits, incidents are still raised, and a
rule that could never act is refused when it is written."""

import pytest

from tests.conftest import assert_problem

INCIDENTS = "/api/v1/incidents"


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


def test_a_rule_whose_team_went_inactive_is_passed_over(client, admin, factory, incidents):
    gone, desk = factory.team(name="Gone"), factory.team(name="Desk")
    for position, team in ((1, gone), (2, desk)):
        created = client.post(
            "/api/v1/assignment-rules",
            json={
                "name": f"printers {team.name}",
                "keywords": ["printer"],
                "team_id": team.id,
                "position": position,
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
    deactivated = client.patch(f"/api/v1/teams/{gone.id}", json={"is_active": False}, headers=admin)
    assert deactivated.status_code == 200, deactivated.text
    raised = client.post(INCIDENTS, json={"title": "printer jams"}, headers=admin)
    assert raised.status_code == 201, raised.text
    assert raised.json()["assignment_group_id"] == desk.id


def test_a_rule_to_a_team_without_anyone_available_leaves_the_incident_in_its_queue(
    client, admin, factory
):
    empty = factory.team(name="Nobody home")
    client.post(
        "/api/v1/assignment-rules", json={"name": "everything", "team_id": empty.id}, headers=admin
    )
    raised = client.post(INCIDENTS, json={"title": "anything"}, headers=admin)
    assert raised.status_code == 201, raised.text
    body = raised.json()
    assert (body["assignment_group_id"], body["assignee_id"], body["state"]) == (
        empty.id,
        None,
        "new",
    )


def test_an_escalation_rule_to_an_inactive_team_is_refused(client, admin, factory):
    team = factory.team(name="Retired", is_active=False)
    for action in ("reassign", "notify"):
        response = client.post(
            "/api/v1/sla/escalation-rules",
            json={
                "name": f"to retired {action}",
                "threshold": 100,
                "action": action,
                "team_id": team.id,
            },
            headers=admin,
        )
        body = assert_problem(response, 422, "validation-error")
        assert "inactive" in body["detail"]
