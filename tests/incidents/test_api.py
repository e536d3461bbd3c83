import re

import pytest
from sqlalchemy import text

from tests.conftest import assert_problem

URL = "/api/v1/incidents"


@pytest.fixture
def agent(incidents):
    return incidents.agent()


@pytest.fixture
def agent_headers(factory, agent):
    return factory.auth_headers(agent)


def _create(client, headers, **fields):
    fields.setdefault("title", "Printer jams")
    response = client.post(URL, json=fields, headers=headers)
    assert response.status_code == 201, response.text
    return response


def _patch(client, headers, incident, version=None, **fields):
    extra = {"If-Match": f'"{version}"'} if version is not None else {}
    return client.patch(f"{URL}/{incident['id']}", json=fields, headers={**headers, **extra})


def test_create_returns_201_with_number_location_and_etag(client, agent_headers, agent):
    first = _create(client, agent_headers, title="Mail down", impact=1, urgency=1, channel="phone")
    body = first.json()
    assert re.fullmatch(r"INC\d{7}", body["number"])
    assert first.headers["location"] == f"{URL}/{body['id']}"
    assert first.headers["etag"] == '"1"'
    assert (body["state"], body["priority"], body["channel"], body["version"]) == (
        "new",
        1,
        "phone",
        1,
    )
    assert body["requester"] == {"id": agent.id, "display_name": agent.display_name}
    second = _create(client, agent_headers).json()
    assert int(second["number"][3:]) == int(body["number"][3:]) + 1
    # By id or by number.
    by_number = client.get(f"{URL}/{body['number']}", headers=agent_headers)
    assert by_number.json()["id"] == body["id"]
    assert by_number.headers["etag"] == '"1"'


def test_create_skips_numbers_imported_tickets_hold(client, agent_headers, incidents, session):
    """Imported tickets keep their source numbers: a new one draws past those taken, also past
    the seven digits the number pads to."""
    imported = incidents.incident(title="Imported")
    drawn = int(imported.number[3:])
    imported.number = f"INC{drawn + 2:07d}"
    session.flush()
    assert _create(client, agent_headers).json()["number"] == f"INC{drawn + 1:07d}"
    assert _create(client, agent_headers).json()["number"] == f"INC{drawn + 3:07d}"
    sequence = "operational.incident_number_seq"
    session.execute(text(f"select setval('{sequence}', 9999999)"))
    try:
        incidents.incident(title="Imported").number = "INC10000001"  # drew 10000000
        session.flush()
        assert _create(client, agent_headers).json()["number"] == "INC10000002"
    finally:  # sequences are not rolled back with the test
        session.execute(text(f"select setval('{sequence}', {drawn + 3})"))


def test_update_needs_the_version_and_refuses_a_stale_one(client, agent_headers):
    incident = _create(client, agent_headers).json()

    missing = _patch(client, agent_headers, incident, title="New title")
    assert assert_problem(missing, 428, "version-required")["current_version"] == 1

    updated = _patch(client, agent_headers, incident, version=1, title="New title")
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == '"2"'
    assert updated.json()["title"] == "New title"

    stale = _patch(client, agent_headers, incident, version=1, title="Other title")
    assert assert_problem(stale, 412, "stale-version")["current_version"] == 2
    assert client.get(f"{URL}/{incident['id']}", headers=agent_headers).json()["title"] == (
        "New title"
    )
    # The version may travel in the body instead of If-Match; weak ETags are accepted too.
    by_body = _patch(client, agent_headers, incident, **{"title": "Body", "version": 2})
    assert by_body.status_code == 200
    weak = client.patch(
        f"{URL}/{incident['id']}",
        json={"title": "Weak"},
        headers={**agent_headers, "If-Match": 'W/"3"'},
    )
    assert weak.json()["version"] == 4
    # A wildcard names no version.
    star = client.patch(
        f"{URL}/{incident['id']}",
        json={"title": "Star"},
        headers={**agent_headers, "If-Match": "*"},
    )
    assert star.status_code == 428


def test_illegal_transition_is_a_409_naming_the_allowed_moves(client, agent_headers):
    incident = _create(client, agent_headers).json()
    response = _patch(client, agent_headers, incident, version=1, state="closed")
    body = assert_problem(response, 409, "invalid-transition")
    assert body["allowed"] == ["assigned", "in_progress", "cancelled"]
    assert (body["current"], body["requested"]) == ("new", "closed")
    assert "assigned, in_progress, cancelled" in body["detail"]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"state": "bogus"}, 422),
        ({"channel": "fax"}, 422),
        ({"impact": 4}, 422),
        ({"hold_reason": "awaiting_problem", "state": "on_hold"}, 422),
        ({"title": None}, 422),
        ({"priority": 1}, 422),  # without a reason
        ({"no_such_field": 1}, 422),
        ({"resolution_code": "fixed_by_magic"}, 422),
        ({"assignment_group_id": 999999}, 422),
    ],
)
def test_bad_input_is_problem_json(client, agent_headers, fields, status):
    incident = _create(client, agent_headers).json()
    response = _patch(client, agent_headers, incident, version=1, **fields)
    assert_problem(response, status)


def test_bad_list_parameters_are_problem_json(client, agent_headers):
    for query, status in (
        ("state=bogus", 422),
        ("priority=9", 422),
        ("sort=password", 400),
        ("size=100000", 422),
        ("created_from=yesterday", 422),
    ):
        response = client.get(f"{URL}?{query}", headers=agent_headers)
        assert_problem(response, status)
    assert client.get(f"{URL}/INC9999999", headers=agent_headers).status_code == 404
    assert client.get(f"{URL}/not-a-number", headers=agent_headers).status_code == 404


def test_priority_override_needs_the_permission_and_a_reason(client, factory, agent_headers):
    requester = factory.auth_headers(factory.user(roles=("requester",)))
    refused = client.post(
        URL, json={"title": "x", "priority": 1, "priority_reason": "me"}, headers=requester
    )
    assert refused.status_code == 403
    created = _create(client, agent_headers, impact=3, urgency=3, priority=2, priority_reason="VIP")
    body = created.json()
    assert (body["priority"], body["priority_overridden"], body["priority_override_reason"]) == (
        2,
        True,
        "VIP",
    )


def test_requesters_see_only_their_own_incidents(client, factory, agent_headers):
    alice, bob = factory.user(roles=("requester",)), factory.user(roles=("requester",))
    alice_headers, bob_headers = factory.auth_headers(alice), factory.auth_headers(bob)
    mine = _create(client, alice_headers, title="Alice's laptop").json()
    _create(client, bob_headers, title="Bob's phone")
    on_behalf = _create(client, agent_headers, title="For Alice", requester_id=alice.id).json()

    assert mine["channel"] == "portal"
    listed = client.get(URL, headers=alice_headers).json()
    assert sorted(item["title"] for item in listed["items"]) == ["Alice's laptop", "For Alice"]
    assert listed["total"] == 2
    # Someone else's incident does not exist for a requester: 404, like a missing one.
    for path in ("", "/comments", "/csat"):
        response = client.get(f"{URL}/{mine['id']}{path}", headers=bob_headers)
        assert response.status_code == 404, path
    comment = client.post(
        f"{URL}/{on_behalf['id']}/comments", json={"body": "me too"}, headers=bob_headers
    )
    assert comment.status_code == 404
    assert client.get(f"{URL}/{on_behalf['id']}", headers=alice_headers).status_code == 200
    # Requesters neither edit nor read the event log.
    assert _patch(client, alice_headers, mine, version=1, title="x").status_code == 403
    assert client.get(f"{URL}/{mine['id']}/timeline", headers=alice_headers).status_code == 403


def test_requesters_may_not_route_their_own_incidents(client, factory, incidents):
    requester = factory.auth_headers(factory.user(roles=("requester",)))
    team = incidents.team()
    response = client.post(
        URL, json={"title": "x", "assignment_group_id": team.id}, headers=requester
    )
    assert response.status_code == 403
    assert response.json()["fields"] == ["assignment_group_id"]


def test_public_comments_and_work_notes(client, factory, agent_headers):
    alice = factory.user(roles=("requester",))
    alice_headers = factory.auth_headers(alice)
    incident = _create(client, alice_headers).json()
    comments_url = f"{URL}/{incident['id']}/comments"

    note = client.post(
        comments_url, json={"body": "Driver issue", "is_public": False}, headers=agent_headers
    )
    assert note.status_code == 201
    public = client.post(comments_url, json={"body": "We are on it"}, headers=agent_headers)
    assert (public.status_code, public.json()["is_public"]) == (201, True)
    reply = client.post(comments_url, json={"body": "Thanks"}, headers=alice_headers)
    assert reply.status_code == 201
    refused = client.post(
        comments_url, json={"body": "psst", "is_public": False}, headers=alice_headers
    )
    assert refused.status_code == 403
    assert client.post(comments_url, json={"body": "  "}, headers=alice_headers).status_code == 422

    seen_by_alice = [c["body"] for c in client.get(comments_url, headers=alice_headers).json()]
    assert seen_by_alice == ["We are on it", "Thanks"]
    seen_by_agent = [c["body"] for c in client.get(comments_url, headers=agent_headers).json()]
    assert seen_by_agent == ["Driver issue", "We are on it", "Thanks"]
    # Comments never change the version: they overwrite nobody's edit.
    assert client.get(f"{URL}/{incident['id']}", headers=agent_headers).json()["version"] == 1


def test_timeline_is_the_full_event_log_in_order(client, agent_headers, agent, incidents):
    team = incidents.team()
    client_team_member = incidents.agent(teams=(team,))
    incident = _create(client, agent_headers, impact=2, urgency=2).json()
    _patch(client, agent_headers, incident, version=1, assignment_group_id=team.id)
    client.post(f"{URL}/{incident['id']}/comments", json={"body": "On it"}, headers=agent_headers)
    _patch(
        client,
        agent_headers,
        incident,
        version=2,
        state="resolved",
        resolution_code="solved_permanently",
        resolution_notes="Rebooted",
    )
    timeline = client.get(f"{URL}/{incident['id']}/timeline", headers=agent_headers).json()
    assert [event["seq"] for event in timeline] == list(range(1, len(timeline) + 1))
    ours = [event for event in timeline if not event["kind"].startswith("sla_")]
    assert [(e["kind"], e["field"], e["old_value"], e["new_value"]) for e in ours] == [
        ("created", None, None, incident["number"]),
        ("assigned", "assignment_group", None, team.name),
        ("assigned", "assignee", None, client_team_member.display_name),
        ("state_changed", "state", "new", "assigned"),
        ("comment_added", None, None, "On it"),
        ("field_changed", "resolution_code", None, "solved_permanently"),
        ("field_changed", "resolution_notes", None, "Rebooted"),
        ("state_changed", "state", "assigned", "resolved"),
    ]
    assert {event["actor_id"] for event in ours} == {agent.id}


def test_list_filters(client, agent_headers, incidents, factory, session):
    team = incidents.team()
    worker = incidents.agent(teams=(team,))
    alice = factory.user(roles=("requester",))
    a = _create(client, agent_headers, title="A", impact=1, urgency=1, category="Network").json()
    b = _create(
        client,
        agent_headers,
        title="B",
        service="Email",
        requester_id=alice.id,
        assignment_group_id=team.id,
    ).json()
    c = _create(client, agent_headers, title="C", category="network", impact=2, urgency=2).json()
    _patch(client, agent_headers, c, version=1, state="cancelled")

    def titles(query: str) -> list[str]:
        response = client.get(f"{URL}?{query}&sort=title", headers=agent_headers)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    assert titles("state=new") == ["A"]
    assert titles("state=new&state=assigned") == ["A", "B"]
    assert titles("priority=1&priority=3") == ["A", "C"]
    assert titles(f"assignment_group_id={team.id}") == ["B"]
    assert titles(f"assignee_id={worker.id}") == ["B"]
    assert titles(f"requester_id={alice.id}") == ["B"]
    assert titles("service=email") == ["B"]
    assert titles("category=NETWORK") == ["A", "C"]
    assert titles("category=Network&state=cancelled") == ["C"]
    # Time ranges: move A a day back.
    from datetime import timedelta

    from operational.incidents.models import Incident

    moved = session.get(Incident, a["id"])
    moved.opened_at -= timedelta(days=1)
    moved.updated_at -= timedelta(days=1)
    session.flush()
    cut = (moved.opened_at + timedelta(hours=12)).isoformat().replace("+00:00", "Z")
    assert titles(f"created_to={cut}") == ["A"]
    assert titles(f"created_from={cut}") == ["B", "C"]
    assert titles(f"updated_from={cut}") == ["B", "C"]
    assert titles(f"updated_to={cut}") == ["A"]
    assert b["assignment_group"]["name"] == team.name


def test_list_sort_and_pagination(client, agent_headers):
    for title, impact in (("d", 3), ("a", 1), ("c", 2), ("b", 2), ("e", 1)):
        _create(client, agent_headers, title=title, impact=impact, urgency=1)
    first = client.get(f"{URL}?sort=-priority,title&size=2", headers=agent_headers).json()
    second = client.get(f"{URL}?sort=-priority,title&size=2&page=2", headers=agent_headers).json()
    third = client.get(f"{URL}?sort=-priority,title&size=2&page=3", headers=agent_headers).json()
    # Priorities: impact 3 -> P3, 2 -> P2, 1 -> P1 (urgency high); -priority puts P3 first.
    pages = [[item["title"] for item in page["items"]] for page in (first, second, third)]
    assert pages == [["d", "b"], ["c", "a"], ["e"]]
    assert (first["total"], first["page"], first["size"], third["page"]) == (5, 1, 2, 3)
    newest_first = client.get(URL, headers=agent_headers).json()["items"]
    assert [item["title"] for item in newest_first] == ["e", "b", "c", "a", "d"]


def test_full_text_search_over_number_title_description_and_comments(
    client, factory, agent_headers
):
    alice = factory.user(roles=("requester",))
    alice_headers = factory.auth_headers(alice)
    printer = _create(client, alice_headers, title="Printer jams", description="Paper stuck").json()
    vpn = _create(client, alice_headers, title="VPN drops", description="Every hour").json()
    mail = _create(
        client, alice_headers, title="Mail", description="Outlook prints nothing after VPN login"
    ).json()
    client.post(
        f"{URL}/{vpn['id']}/comments", json={"body": "Firewall rule expired"}, headers=agent_headers
    )
    client.post(
        f"{URL}/{mail['id']}/comments",
        json={"body": "Certificate expired on the relay", "is_public": False},
        headers=agent_headers,
    )

    def found(query: str, headers=agent_headers) -> list[str]:
        response = client.get(URL, params={"q": query, "sort": "title"}, headers=headers)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["items"]]

    # Stemming: "printers" finds "Printer", "jammed" finds "jams", "printing" finds "prints".
    assert found("printers") == ["Printer jams"]
    assert found("jammed") == ["Printer jams"]
    assert found("printing") == ["Mail"]
    assert found("stuck paper") == ["Printer jams"]
    assert found(printer["number"]) == ["Printer jams"]
    assert found("firewall") == ["VPN drops"]
    assert found("expired") == ["Mail", "VPN drops"]
    assert found('"rule expired" -certificate') == ["VPN drops"]
    assert found("nothing-matches-this") == []
    # A work note is not searchable by the requester: its words must not leak.
    assert found("certificate", alice_headers) == []
    assert found("expired", alice_headers) == ["VPN drops"]
    # Without an explicit sort, best matches first: a title hit outranks a description hit.
    assert found("vpn") == ["Mail", "VPN drops"]
    ranked = client.get(URL, params={"q": "vpn"}, headers=agent_headers).json()["items"]
    assert [item["title"] for item in ranked] == ["VPN drops", "Mail"]


def test_priority_matrix_endpoint(client, agent_headers):
    body = client.get(f"{URL}/priority-matrix", headers=agent_headers).json()
    assert body["matrix"] == [[1, 2, 3], [2, 3, 4], [3, 4, 5]]


def test_assignment_rules_admin(client, factory, incidents, agent_headers):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    team = incidents.team()
    member = incidents.agent(teams=(team,))
    rule = {
        "name": "Printers",
        "keywords": ["toner", "Toner"],
        "team_id": team.id,
    }
    assert (
        client.post("/api/v1/assignment-rules", json=rule, headers=agent_headers).status_code == 403
    )
    created = client.post("/api/v1/assignment-rules", json=rule, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["keywords"], body["team"]["id"], body["position"]) == (["toner"], team.id, 100)
    again = client.post("/api/v1/assignment-rules", json=rule, headers=admin)
    assert again.status_code == 409
    unknown_team = client.post(
        "/api/v1/assignment-rules", json={**rule, "name": "x", "team_id": 999999}, headers=admin
    )
    assert unknown_team.status_code == 422

    incident = _create(client, agent_headers, title="Out of TONER").json()
    assert (incident["assignment_group_id"], incident["assignee_id"]) == (team.id, member.id)

    rule_url = f"/api/v1/assignment-rules/{body['id']}"
    patched = client.patch(rule_url, json={"is_active": False, "position": 5}, headers=admin)
    assert (patched.json()["is_active"], patched.json()["position"]) == (False, 5)
    assert _create(client, agent_headers, title="toner").json()["assignment_group_id"] is None
    listed = client.get("/api/v1/assignment-rules", headers=admin).json()
    assert [item["name"] for item in listed["items"]] == ["Printers"]
    assert client.delete(rule_url, headers=admin).status_code == 204
    assert client.get(rule_url, headers=admin).status_code == 404


def test_auto_assign_endpoint_reruns_the_rules(client, agent_headers, incidents):
    incident = _create(client, agent_headers, title="Laptop fan", category="Hardware").json()
    assert incident["assignment_group_id"] is None
    response = client.post(f"{URL}/{incident['id']}/auto-assign", headers=agent_headers)
    assert response.status_code == 404
    team = incidents.team()
    incidents.rule(team=team, category="hardware")
    response = client.post(f"{URL}/{incident['id']}/auto-assign", headers=agent_headers)
    assert response.json()["assignment_group_id"] == team.id
    assert response.headers["etag"] == '"2"'


def test_requester_reopens_through_the_api_within_the_window(client, factory, incidents, session):
    from datetime import timedelta

    from operational.incidents.models import Incident

    agent = incidents.agent()
    alice = factory.user(roles=("requester",))
    agent_headers, alice_headers = factory.auth_headers(agent), factory.auth_headers(alice)
    incident = _create(
        client, agent_headers, title="Scanner", requester_id=alice.id, assignee_id=agent.id
    ).json()
    resolve = {
        "state": "resolved",
        "resolution_code": "solved_permanently",
        "resolution_notes": "Driver",
    }
    assert _patch(client, agent_headers, incident, version=1, **resolve).status_code == 200

    reopened = client.post(
        f"{URL}/{incident['id']}/reopen", json={"reason": "Still broken"}, headers=alice_headers
    )
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["state"], reopened.json()["reopen_count"]) == ("in_progress", 1)
    assert reopened.headers["etag"] == '"3"'
    comments = client.get(f"{URL}/{incident['id']}/comments", headers=alice_headers).json()
    assert [comment["body"] for comment in comments] == ["Still broken"]

    # Resolved again, eight days ago: the window (7 days) has passed for the requester.
    assert _patch(client, agent_headers, incident, version=3, **resolve).status_code == 200
    session.get(Incident, incident["id"]).resolved_at -= timedelta(days=8)
    late = client.post(
        f"{URL}/{incident['id']}/reopen", json={"reason": "Again"}, headers=alice_headers
    )
    assert late.status_code == 409
    assert late.json()["type"] == "/problems/reopen-window-closed"
    assert "reopen_deadline" in late.json()
    # An agent still may, here by moving it back to in_progress.
    again = _patch(client, agent_headers, incident, version=4, state="in_progress")
    assert (again.json()["state"], again.json()["reopen_count"]) == ("in_progress", 2)
