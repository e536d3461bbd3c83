from sqlalchemy import select

from operational.events.models import Event
from tests.conftest import assert_problem
from tests.knowledge.conftest import ARTICLES
from tests.problems.conftest import ProblemApi


def test_resolving_an_incident_with_an_article_records_the_use_on_both(
    kb, client, session, incidents, factory
):
    agent = factory.user(roles=("agent",))
    headers = factory.auth_headers(agent)
    article = kb.published(title="Clear the Teams cache")
    incident = incidents.incident(actor=agent, assignee_id=agent.id)
    response = client.post(
        f"{ARTICLES}/{article['id']}/uses",
        json={"incident_id": incident.id, "resolve": True},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["resolved"] is True and response.json()["article_version"] == 1
    session.refresh(incident)
    assert incident.state == "resolved"
    assert incident.resolution_code == "solved_workaround"
    assert article["number"] in incident.resolution_notes
    used = session.scalar(
        select(Event).where(
            Event.entity_type == "incident",
            Event.entity_id == incident.id,
            Event.kind == "article_used",
        )
    )
    assert used.new_value == article["number"] and used.data["resolved"] is True
    assert kb.current(article)["uses"] == 1
    listed = client.get(f"{ARTICLES}/{article['id']}/uses", headers=kb.author).json()
    assert [item["incident_id"] for item in listed["items"]] == [incident.id]
    unknown = client.post(
        f"{ARTICLES}/{article['id']}/uses", json={"incident_id": 987654}, headers=headers
    )
    assert assert_problem(unknown, 422)["field"] == "incident_id"


def test_an_unpublished_article_cannot_be_used(kb, client, incidents):
    draft = kb.write()
    response = client.post(
        f"{ARTICLES}/{draft['id']}/uses",
        json={"incident_id": incidents.incident().id},
        headers=kb.author,
    )
    assert_problem(response, 404)


def test_requesters_mark_articles_helpful_once(kb, client):
    article = kb.published(audience="everyone")
    url = f"{ARTICLES}/{article['id']}/feedback"
    first = client.put(
        url, json={"helpful": False, "comment": "Step 2 fails"}, headers=kb.requester
    )
    assert first.status_code == 200, first.text
    assert first.json()["article_version"] == 1
    client.put(url, json={"helpful": True}, headers=kb.requester)  # changes their mind
    other = kb.factory.auth_headers(kb.factory.user(roles=("requester",)))
    client.put(url, json={"helpful": False}, headers=other)
    shown = kb.current(article)
    assert (shown["helpful"], shown["not_helpful"]) == (1, 1)
    internal = kb.published(title="Internal only")
    assert_problem(
        client.put(f"{ARTICLES}/{internal['id']}/feedback", json={"helpful": True},
                   headers=kb.requester), 404)  # fmt: skip


def test_a_draft_starts_from_a_resolved_incident(kb, client, incidents, factory):
    agent = factory.user(roles=("agent",))
    open_incident = incidents.incident(actor=agent, title="Scanner driver missing")
    refused = client.post(
        f"{ARTICLES}/from-incident", json={"incident_id": open_incident.id}, headers=kb.author
    )
    assert_problem(refused, 422, "nothing-to-draft-from")
    resolved = incidents.resolved(actor=agent, title="Scanner driver missing", category="Printer",
                                  description="The scanner is not listed")  # fmt: skip
    created = client.post(
        f"{ARTICLES}/from-incident", json={"incident_id": resolved.id}, headers=kb.author
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["state"] == "draft" and draft["source_incident_id"] == resolved.id
    assert draft["title"] == "Scanner driver missing" and draft["category"] == "Printer"
    assert "## Resolution\n\nReplaced the fuser" in draft["body"]
    assert "The scanner is not listed" in draft["body"]


def test_a_draft_starts_from_a_known_error(kb, client):
    problems = ProblemApi(client, kb.author)
    problem = problems.create(title="SSO loops on Safari", service="Identity",
                              symptom="The login page reloads forever")  # fmt: skip
    empty = client.post(f"{ARTICLES}/from-problem", json={"problem_id": problem["id"]},
                        headers=kb.author)  # fmt: skip
    assert_problem(empty, 422, "nothing-to-draft-from")
    problems.patch(problems.get(problem), root_cause="Third-party cookies blocked",
                   workaround="Allow cookies for sso.example")  # fmt: skip
    problems.publish(problem)
    draft = client.post(
        f"{ARTICLES}/from-problem", json={"problem_id": problem["id"]}, headers=kb.author
    ).json()
    assert draft["source_problem_id"] == problem["id"] and draft["service"] == "Identity"
    for expected in ("## Symptom", "The login page reloads forever", "## Cause",
                     "## Workaround", "Allow cookies for sso.example"):  # fmt: skip
        assert expected in draft["body"]
