"""Teams (assignment groups) and their members through the API."""

from operational.auth.models import Team, TeamMember
from operational.events import service as events
from tests.conftest import assert_problem


def _team_events(session, team):
    return [
        (event.kind, event.field, event.old_value, event.new_value)
        for event in events.list_for(session=session, entity_type="team", entity_id=team.id)
    ]


def test_team_lifecycle(client, factory, session):
    admin = factory.auth_headers(factory.user(roles=("admin",)))

    created = client.post(
        "/api/v1/teams",
        json={
            "name": "Network Ops",
            "email": "NETOPS@example.com",
            "assignment_strategy": "least_loaded",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    team = created.json()
    assert team["email"] == "netops@example.com" and team["is_active"] is True
    assert team["assignment_strategy"] == "least_loaded" and team["members"] == []

    renamed = client.patch(
        f"/api/v1/teams/{team['id']}",
        json={"name": "Network", "description": "Routers and switches"},
        headers=admin,
    )
    assert renamed.json()["name"] == "Network"
    cleared = client.patch(f"/api/v1/teams/{team['id']}", json={"email": None}, headers=admin)
    assert (
        cleared.json()["email"] is None and cleared.json()["description"] == "Routers and switches"
    )

    gone = client.delete(f"/api/v1/teams/{team['id']}", headers=admin)
    assert gone.status_code == 204
    stored = session.get(Team, team["id"])
    assert stored is not None and stored.is_active is False  # kept for history
    assert _team_events(session, stored) == [
        ("created", None, None, "Network Ops"),
        ("field_changed", "name", "Network Ops", "Network"),
        ("field_changed", "description", None, "Routers and switches"),
        ("field_changed", "email", "netops@example.com", None),
        ("field_changed", "is_active", "True", "False"),
    ]


def test_team_refusals(client, factory):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    factory.team(name="Service Desk")

    duplicate = client.post("/api/v1/teams", json={"name": "service desk"}, headers=admin)
    assert_problem(duplicate, 409, "team-name-taken")
    strategy = client.post(
        "/api/v1/teams", json={"name": "X", "assignment_strategy": "random"}, headers=admin
    )
    assert_problem(strategy, 422, "validation-error")
    assert_problem(client.get("/api/v1/teams/999999999", headers=admin), 404, "not-found")


def test_list_teams_filters_and_sorts(client, factory):
    for name, active in [("Zeta Team", True), ("Alpha Team", True), ("Omega Team", False)]:
        factory.team(name=f"{name} (list)", is_active=active)
    headers = factory.auth_headers(factory.user(roles=("agent",)))  # team:read

    response = client.get(
        "/api/v1/teams", params={"q": "(list)", "sort": "-name", "active": "true"}, headers=headers
    )

    assert response.status_code == 200
    body = response.json()
    assert [team["name"] for team in body["items"]] == ["Zeta Team (list)", "Alpha Team (list)"]
    assert body["total"] == 2


def test_membership_and_availability(client, factory, session):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    team = factory.team(name="On Call")
    agent = factory.user(display_name="Ann")

    added = client.put(f"/api/v1/teams/{team.id}/members/{agent.id}", json={}, headers=admin)
    assert added.status_code == 200, added.text
    assert added.json()["members"] == [
        {
            "user_id": agent.id,
            "display_name": "Ann",
            "email": agent.email,
            "is_available": True,
            "last_assigned_at": None,
        }
    ]

    # The member marks themself away: auto-assignment reads TeamMember.is_available.
    away = client.put(
        f"/api/v1/teams/{team.id}/members/me",
        json={"is_available": False},
        headers=factory.auth_headers(agent),
    )
    assert away.status_code == 200
    assert session.get(TeamMember, (team.id, agent.id)).is_available is False
    back = client.put(
        f"/api/v1/teams/{team.id}/members/{agent.id}", json={"is_available": True}, headers=admin
    )
    assert back.json()["members"][0]["is_available"] is True

    removed = client.delete(f"/api/v1/teams/{team.id}/members/{agent.id}", headers=admin)
    assert removed.status_code == 204
    assert session.get(TeamMember, (team.id, agent.id)) is None
    again = client.delete(f"/api/v1/teams/{team.id}/members/{agent.id}", headers=admin)
    assert_problem(again, 404, "not-found")

    assert [(kind, field) for kind, field, *_ in _team_events(session, team)] == [
        ("field_changed", "member"),
        ("field_changed", "member_available"),
        ("field_changed", "member_available"),
        ("field_changed", "member"),
    ]


def test_only_members_set_their_own_availability(client, factory):
    team = factory.team()
    outsider = factory.user()
    response = client.put(
        f"/api/v1/teams/{team.id}/members/me",
        json={"is_available": False},
        headers=factory.auth_headers(outsider),
    )
    assert_problem(response, 404, "not-found")
