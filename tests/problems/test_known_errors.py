from tests.conftest import assert_problem
from tests.problems.conftest import URL

INCIDENTS = "/api/v1/incidents"


def test_publishing_needs_a_root_cause_and_a_workaround(problems):
    problem = problems.create()
    body = assert_problem(
        problems.publish(problem, "Restart the client"), 422, "problem-incomplete"
    )
    assert body["missing"] == ["root_cause"]
    problems.patch(problems.get(problem), root_cause="Stale DNS cache")
    assert problems.get(problem)["known_error"] is False
    published = problems.publish(problem, "Flush the DNS cache")
    assert published.status_code == 200, published.text
    assert published.json()["known_error_at"] is not None
    assert published.json()["workaround"] == "Flush the DNS cache"


def test_agents_see_the_workaround_on_every_linked_incident(client, problems, incidents, factory):
    first, second, unrelated = incidents.incident(), incidents.incident(), incidents.incident()
    problem = problems.create(title="Outlook cannot reach the mail server")
    for incident in (first, second):
        problems.link(problem, incident.id)
    # Not a known error yet: nothing shown.
    assert client.get(f"{INCIDENTS}/{first.id}/known-errors", headers=problems.headers).json() == []
    assert (
        client.get(f"{INCIDENTS}/{first.id}", headers=problems.headers).json()["known_error"]
        is None
    )

    problems.patch(problems.get(problem), root_cause="Stale DNS cache on the clients")
    published = problems.publish(problem, "Run ipconfig /flushdns, then restart Outlook")
    assert published.status_code == 200, published.text
    assert published.json()["known_error"] is True
    for incident in (first, second):
        [shown] = client.get(
            f"{INCIDENTS}/{incident.id}/known-errors", headers=problems.headers
        ).json()
        assert shown["number"] == problem["number"]
        assert shown["workaround"] == "Run ipconfig /flushdns, then restart Outlook"
        hint = client.get(f"{INCIDENTS}/{incident.number}", headers=problems.headers).json()
        assert hint["known_error"]["workaround"] == shown["workaround"]
    assert (
        client.get(f"{INCIDENTS}/{unrelated.id}/known-errors", headers=problems.headers).json()
        == []
    )

    # A requester reading their own incident sees no internal workaround.
    requester = factory.user(roles=("requester",))
    own = incidents.incident(actor=requester)
    problems.link(problem, own.id)
    own_view = client.get(f"{INCIDENTS}/{own.id}", headers=factory.auth_headers(requester))
    assert own_view.status_code == 200
    assert own_view.json()["known_error"] is None
    refused = client.get(
        f"{INCIDENTS}/{own.id}/known-errors", headers=factory.auth_headers(requester)
    )
    assert_problem(refused, 403)


def test_a_retracted_known_error_disappears_from_its_incidents(client, problems, incidents):
    incident = incidents.incident()
    problem = problems.create()
    problems.link(problem, incident.id)
    problems.patch(
        problems.get(problem), root_cause="Bad driver", workaround="Roll back the driver"
    )
    problems.publish(problem)
    # The workaround of a published known error cannot be blanked.
    blank = problems.patch(problems.get(problem), workaround=None)
    assert assert_problem(blank, 422)["field"] == "workaround"
    current = problems.get(problem)
    retracted = client.delete(
        f"{URL}/{problem['id']}/known-error",
        headers={**problems.headers, "If-Match": f'"{current["version"]}"'},
    )
    assert retracted.json()["known_error"] is False
    assert (
        client.get(f"{INCIDENTS}/{incident.id}/known-errors", headers=problems.headers).json() == []
    )
