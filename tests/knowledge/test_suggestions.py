"""Suggestions on incident create and on a title change, and on a request's order."""

from tests.incidents.test_query_counts import CREATE, Statements
from tests.problems.conftest import ProblemApi

INCIDENTS = "/api/v1/incidents"


def test_a_new_incident_comes_with_the_best_matching_articles_and_known_errors(kb, client):
    wifi = kb.published(title="Wi-Fi keeps disconnecting on laptops", keywords=["wifi", "wireless"],
                        body="Update the wireless driver.")  # fmt: skip
    kb.published(title="Order a new monitor", body="Use the hardware catalogue.")
    problems = ProblemApi(client, kb.author)
    problem = problems.create(title="Laptops lose wireless when the access points reboot")
    problems.patch(problems.get(problem), root_cause="Firmware bug",
                   workaround="Connect to the wired dock until the fix")  # fmt: skip
    problems.publish(problem)

    created = client.post(
        INCIDENTS,
        json={"title": "My laptop wireless keeps disconnecting", "description": "Since Monday"},
        headers=kb.author,
    )
    assert created.status_code == 201, created.text
    suggestions = created.json()["suggestions"]
    assert suggestions[0]["number"] == wifi["number"]
    assert {item["kind"] for item in suggestions} == {"article", "known_error"}
    assert all(item["rank"] > 0 for item in suggestions)
    assert "monitor" not in " ".join(item["title"] for item in suggestions).lower()
    incident = created.json()

    # Changing the title suggests again; other changes do not.
    renamed = client.patch(
        f"{INCIDENTS}/{incident['id']}",
        json={"title": "Need a new monitor"},
        headers={**kb.author, "If-Match": '"1"'},
    ).json()
    assert [item["title"] for item in renamed["suggestions"]] == ["Order a new monitor"]
    other = client.patch(
        f"{INCIDENTS}/{incident['id']}",
        json={"category": "Hardware"},
        headers={**kb.author, "If-Match": f'"{renamed["version"]}"'},
    ).json()
    assert other["suggestions"] is None


def test_requesters_are_suggested_only_articles_for_everyone(kb, client):
    kb.published(title="Reset your password", audience="everyone")
    kb.published(title="Reset a service account password")  # agents only
    created = client.post(
        INCIDENTS, json={"title": "Cannot reset password"}, headers=kb.requester
    ).json()
    assert [item["title"] for item in created["suggestions"]] == ["Reset your password"]


def test_no_match_suggests_nothing(kb, client, settings_env):
    kb.published(title="Printer jams")
    created = client.post(INCIDENTS, json={"title": "Quantum flux"}, headers=kb.author).json()
    assert created["suggestions"] == []
    settings_env(knowledge_suggestions="0")
    again = client.post(INCIDENTS, json={"title": "Printer jams"}, headers=kb.author).json()
    assert again["suggestions"] == []


def test_a_new_request_comes_with_the_articles_that_match_what_it_orders(kb, client, kit):
    kb.published(title="Set up a new laptop", body="Sign in and run the setup wizard.",
                 audience="everyone")  # fmt: skip
    kb.published(title="Printer jams", audience="everyone")
    item = kit.item(name="Standard laptop")
    created = client.post(
        "/api/v1/requests",
        json={
            "items": [{"catalog_item_id": item.id,
                       "answers": {"model": "standard", "needed_by": "2025-07-01"}}],
            "justification": "New starter needs a laptop set up",
        },
        headers=kit.factory.auth_headers(kit.requester),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert [item["title"] for item in created.json()["suggestions"]] == ["Set up a new laptop"]


def test_suggestions_cost_three_statements_whatever_the_languages_and_hits(kb, client, engine):
    """The languages in use and the ticket's words stemmed in each (one statement), the
    articles, the known errors: not one statement per language, nor the hits' authors, owners
    and CIs loaded after them."""
    for title in ("Laptop wireless keeps dropping", "Wireless laptop dock drops the screen"):
        kb.published(title=title)
    kb.published(title="WLAN am Laptop bricht ab", language="german")
    kb.published(title="Laptop sans fil se déconnecte", language="french")
    problems = ProblemApi(client, kb.author)
    problem = problems.create(title="Laptops lose wireless when the access points reboot")
    problems.patch(problems.get(problem), root_cause="Firmware bug",
                   workaround="Connect to the wired dock until the fix")  # fmt: skip
    problems.publish(problem)
    count = Statements(engine)
    created = count(
        lambda: client.post(
            INCIDENTS, json={"title": "My laptop wireless keeps dropping"}, headers=kb.author
        )
    )
    suggestions = client.post(
        INCIDENTS, json={"title": "My laptop wireless keeps dropping"}, headers=kb.author
    ).json()["suggestions"]
    read_for_suggestions = (
        "knowledge_article", "to_tsvector", "operational.problem", "operational.users",
        "operational.user_roles", "team_members",
    )  # fmt: skip
    suggesting = [
        statement
        for statement in count.seen
        if "operational.incidents" not in statement
        and any(table in statement for table in read_for_suggestions)
    ]

    assert {item["kind"] for item in suggestions} == {"article", "known_error"}
    assert len(suggestions) >= 3
    assert len(suggesting) == 3, suggesting
    assert created <= CREATE
