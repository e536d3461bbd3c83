"""The fast path for ``GET /api/v1/incidents/{id}`` (operational/incidents/fastpath.py) answers
exactly as the FastAPI route does: same status, headers and bytes, for every kind of request,
whether it serves the request itself or leaves it to the route. And it does serve the common
ones: ``served`` counts them, so a change that makes it fall through every time fails here."""

import pytest

from operational.auth.security import MFA_ENROLMENT_SCOPE, create_access_token
from tests.problems.conftest import ProblemApi

URL = "/api/v1/incidents"


@pytest.fixture
def people(client, factory, incidents):
    team = incidents.team()
    agent = incidents.agent(teams=(team,))
    requester = incidents.requester()
    other = incidents.requester()
    headers = {user: factory.auth_headers(user) for user in (agent, requester, other)}
    own = incidents.incident(
        actor=agent, requester_id=requester.id, assignment_group_id=team.id, assignee_id=agent.id
    )
    for each in headers.values():  # the first request commits the user; the second caches them
        for _ in range(2):
            client.get(f"{URL}/priority-matrix", headers=each).raise_for_status()
    return {
        "agent": headers[agent],
        "requester": headers[requester],
        "other": headers[other],
        "agent_user": agent,
        "own": own,
    }


def both(client, url: str, headers: dict[str, str] | None = None):
    """The response with the fast path on, whether the path served it, and the route's own."""
    stats = client.app.state.incident_fast_reads
    before = stats.served
    fast = client.get(url, headers=headers or {}, follow_redirects=False)
    served = stats.served - before
    stats.enabled = False
    try:
        slow = client.get(url, headers=headers or {}, follow_redirects=False)
    finally:
        stats.enabled = True
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.headers.multi_items() == slow.headers.multi_items()
    assert fast.content == slow.content
    return fast, served


def test_an_agents_read_is_served_by_the_fast_path_as_the_route_serves_it(client, people):
    own = people["own"]
    by_id, served_by_id = both(client, f"{URL}/{own.id}", people["agent"])
    by_number, served_by_number = both(client, f"{URL}/{own.number}", people["agent"])

    assert (by_id.status_code, served_by_id) == (200, 1)
    assert (by_number.status_code, served_by_number) == (200, 1)
    assert by_id.headers["etag"] == f'"{own.version}"'
    assert by_id.json()["id"] == own.id and by_id.json()["sla_timers"]


def test_a_requester_reads_their_own_incident_fast_and_anothers_is_a_404(client, people):
    url = f"{URL}/{people['own'].id}"
    own, served_own = both(client, url, people["requester"])
    other, served_other = both(client, url, people["other"])

    assert (own.status_code, served_own) == (200, 1)
    assert (other.status_code, served_other) == (404, 0)
    assert other.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "bearer  "],
)
def test_a_missing_or_bad_token_is_the_routes_401(client, people, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response, served = both(client, f"{URL}/{people['own'].id}", headers)

    assert (response.status_code, served) == (401, 0)


def test_an_mfa_enrolment_token_is_the_routes_403(client, people):
    token = create_access_token(
        user_id=people["agent_user"].id, extra={"scope": MFA_ENROLMENT_SCOPE}
    )
    headers = {"Authorization": f"Bearer {token}"}
    response, served = both(client, f"{URL}/{people['own'].id}", headers)

    assert (response.status_code, served) == (403, 0)
    assert response.json()["mfa_required"] is True


def test_a_role_without_incident_read_is_the_routes_403(client, factory, people):
    headers = factory.auth_headers(factory.user(roles=("analyst",)))
    for _ in range(2):
        client.get("/api/v1/auth/me", headers=headers).raise_for_status()
    response, served = both(client, f"{URL}/{people['own'].id}", headers)

    assert (response.status_code, served) == (403, 0)


def test_a_deactivated_user_is_refused_by_the_route(client, session, people):
    agent = people["agent_user"]
    agent.is_active = False
    session.flush()  # drops the user's snapshot (operational/auth/cache.py)
    response, served = both(client, f"{URL}/{people['own'].id}", people["agent"])

    assert (response.status_code, served) == (401, 0)


def test_if_none_match_changes_nothing_on_either(client, people):
    own = people["own"]
    headers = {**people["agent"], "If-None-Match": f'"{own.version}"'}
    response, served = both(client, f"{URL}/{own.id}", headers)

    # The route answers in full (no 304: the body's known error can change without the
    # incident's version), and so does the fast path.
    assert (response.status_code, served) == (200, 1)


@pytest.mark.parametrize("query", ["expand=all", "fields=id", "x"])
def test_a_query_string_goes_to_the_route(client, people, query):
    response, served = both(client, f"{URL}/{people['own'].id}?{query}", people["agent"])

    assert (response.status_code, served) == (422, 0)


@pytest.mark.parametrize("reference", ["999999999", "INC9999999", "x" * 300, " "])
def test_a_missing_incident_is_the_routes_404(client, people, reference):
    response, served = both(client, f"{URL}/{reference}", people["agent"])

    assert (response.status_code, served) == (404, 0)


def test_other_routes_under_incidents_are_not_taken(client, people):
    matrix, served = both(client, f"{URL}/priority-matrix", people["agent"])
    slash, served_slash = both(client, f"{URL}/{people['own'].id}/", people["agent"])

    assert (matrix.status_code, served) == (200, 0)
    assert (slash.status_code, served_slash) == (307, 0)


def test_the_known_error_behind_an_incident_is_served_fast_to_whoever_sees_it(client, people):
    own = people["own"]
    problems = ProblemApi(client, people["agent"])
    problem = problems.create(title="Mail server drops connections")
    assert problems.link(problem, own.id).status_code in (200, 201)
    unpublished, served = both(client, f"{URL}/{own.id}", people["agent"])
    assert (unpublished.status_code, served) == (200, 1)
    assert unpublished.json()["problem_id"] == problem["id"]
    assert unpublished.json()["known_error"] is None

    problems.analysed(problem)
    published = problems.publish(problem, workaround="Restart the mail client")
    assert published.status_code == 200, published.text
    for viewer, expected in (("agent", "Restart the mail client"), ("requester", None)):
        response, served = both(client, f"{URL}/{own.id}", people[viewer])
        assert (response.status_code, served) == (200, 1)
        hint = response.json()["known_error"]
        assert (hint and hint["workaround"]) == expected
        if hint:
            assert (hint["problem_id"], hint["number"]) == (problem["id"], problem["number"])


def test_a_user_not_yet_cached_goes_to_the_route(client, factory, people):
    headers = factory.auth_headers(factory.user(roles=("agent",)))
    stats = client.app.state.incident_fast_reads
    before = stats.served
    first = client.get(f"{URL}/{people['own'].id}", headers=headers)

    assert (first.status_code, stats.served - before) == (200, 0)


def test_outside_the_tests_transaction_the_path_reads_through_its_own_pool(committed_database):
    """As served: no replacement of get_db, so the path reads and lists through its own
    connections, in the event loop."""
    from fastapi.testclient import TestClient

    from operational.auth import cache as auth_cache
    from operational.auth.models import User, UserRole
    from operational.core.config import get_settings
    from operational.core.db import session_scope
    from operational.incidents import flows
    from operational.incidents.schemas import IncidentCreate
    from operational.main import create_app
    from tests.factories import Factory

    with session_scope() as session:
        agent = User(
            email="fast-reads@example.com",
            display_name="Fast reads",
            role_rows=[UserRole(role="agent")],
        )
        session.add(agent)
        session.flush()
        incident = flows.create(
            session=session, data=IncidentCreate(title="Disk full on db-2"), actor=agent
        ).incident
        url, headers = f"{URL}/{incident.id}", Factory(session).auth_headers(agent)

    app = create_app()
    with TestClient(app, raise_server_exceptions=False) as client:
        assert auth_cache.wait_until_listening(10)
        for _ in range(2):
            client.get(f"{URL}/priority-matrix", headers=headers).raise_for_status()
        response, served = both(client, url, headers)
        listed, served_list = listed_both(client, "size=5&fields=id,title", headers)
        stats = app.state.incident_fast_reads
        pool, engine = stats.pool, stats.engine
        assert engine is not None and engine.pool.checkedin() == 1  # the list gave it back
        # The two pools share what one had: ITSM_DB_POOL_SIZE (README, docs/incidents.md).
        assert pool.max_size + engine.pool.size() <= get_settings().db_pool_size

    assert (response.status_code, served) == (200, 1)
    assert response.json()["title"] == "Disk full on db-2"
    assert (listed.status_code, served_list) == (200, 1)
    assert listed.json()["items"] == [{"id": incident.id, "title": "Disk full on db-2"}]
    assert pool is not None and pool.closed  # opened by the read, closed at shutdown
    assert stats.engine is None and engine.pool.checkedin() == 0  # disposed at shutdown


def test_custom_fields_are_served_fast_to_an_agent_and_a_requesters_view_by_the_route(
    client, incidents, people
):
    own = people["own"]
    incidents.with_site_and_cost(own.id, "Delft", 12.5)
    url = f"{URL}/{own.id}"
    agents, served_agent = both(client, url, people["agent"])
    requesters, served_requester = both(client, url, people["requester"])

    assert (agents.status_code, served_agent) == (200, 1)
    assert agents.json()["custom_fields"] == {"site": "Delft", "cost": 12.5}
    assert (requesters.status_code, served_requester) == (200, 0)
    assert requesters.json()["custom_fields"] == {"site": "Delft"}


def listed_both(client, query: str, headers: dict[str, str] | None = None):
    """A list page with the fast path on, whether the path served it, and the route's own."""
    stats = client.app.state.incident_fast_reads
    before = stats.listed
    url = f"{URL}?{query}" if query else URL
    fast = client.get(url, headers=headers or {}, follow_redirects=False)
    served = stats.listed - before
    stats.enabled = False
    try:
        slow = client.get(url, headers=headers or {}, follow_redirects=False)
    finally:
        stats.enabled = True
    assert fast.status_code == slow.status_code, (query, fast.text, slow.text)
    assert fast.headers.multi_items() == slow.headers.multi_items(), query
    assert fast.content == slow.content, query
    return fast, served


@pytest.fixture
def several(incidents, people):
    agent = people["agent_user"]
    for impact, title in ((1, "VPN down"), (2, "Printer jam"), (3, "VPN slow"), (3, "Mail")):
        incidents.incident(actor=agent, title=title, impact=impact, urgency=impact)
    return people


@pytest.mark.parametrize(
    "query",
    [
        "",
        "page=2&size=2",
        "size=3&sort=-priority,title",
        "state=new&state=assigned&size=10",
        "priority=3",
        "q=VPN",
        "created_from=2020-01-01&created_to=2100-01-01T00:00:00Z",
        "assignee_id=1&size=5",
        "fields=number,title,state&size=3",
        "fields=assignee, sla_timers ,id&state=new",
    ],
)
def test_a_plain_list_page_is_served_fast_as_the_route_serves_it(client, several, query):
    page, served = listed_both(client, query, several["agent"])
    assert (page.status_code, served) == (200, 1)
    assert "total" in page.json()


def test_keyset_pages_and_a_requesters_list_are_served_fast(client, several):
    first, _ = listed_both(client, "size=2", several["agent"])
    cursor = first.json()["next_after"]
    second, served = listed_both(client, f"size=2&after={cursor}", several["agent"])
    assert (second.status_code, served) == (200, 1)
    assert not {i["id"] for i in second.json()["items"]} & {i["id"] for i in first.json()["items"]}
    own, served_own = listed_both(client, "", several["requester"])
    assert served_own == 1
    assert [item["id"] for item in own.json()["items"]] == [several["own"].id]


@pytest.mark.parametrize(
    "query",
    [
        "size=0",
        "size=501",
        "page=01",
        "page=-1",
        "state=",
        "state=bogus",
        "sort=colour",
        "after=not-a-cursor",
        "fields=cf.site",
        "fields=number,colour",
        "fields=",
        "fields=number&fields=title",
        "cf.site=Delft",
        "colour=red",
        "q=VPN&q=Mail",
        "created_from=yesterday",
    ],
)
def test_what_the_list_route_refuses_or_the_path_does_not_know_goes_to_the_route(
    client, several, query
):
    _, served = listed_both(client, query, several["agent"])
    assert served == 0


def test_a_list_without_a_token_is_the_routes_401(client, several):
    page, served = listed_both(client, "")
    assert (page.status_code, served) == (401, 0)
