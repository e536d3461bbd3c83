import re

from sqlalchemy import select

from operational.events.models import Event
from tests.conftest import assert_problem
from tests.knowledge.conftest import ARTICLES


def test_an_article_goes_draft_review_published_with_its_version_and_approver(kb, client):
    article = kb.write(keywords=["vpn", "password"], category="Access", service="VPN")
    assert re.fullmatch(r"KB\d{7}", article["number"])
    assert (article["state"], article["current_version"], article["version"]) == ("draft", None, 1)
    assert article["allowed_transitions"] == ["review"]
    submitted = kb.submit(article).json()
    assert submitted["state"] == "review"
    published = kb.review(article, comment="Clear and correct").json()
    assert (published["state"], published["current_version"]) == ("published", 1)
    assert published["last_published_at"] is not None and published["review_due_at"] is not None
    [version] = client.get(f"{ARTICLES}/{article['id']}/versions", headers=kb.author).json()
    assert version["number"] == 1 and version["is_current"] is True
    assert version["approved_by"]["display_name"]
    assert version["author"]["display_name"] != version["approved_by"]["display_name"]
    assert version["review_comment"] == "Clear and correct"


def test_illegal_moves_are_409s_naming_the_allowed_ones(kb):
    article = kb.write()
    early = kb.review(article)
    body = assert_problem(early, 409, "invalid-transition")
    assert (body["current"], body["allowed"]) == ("draft", ["review"])
    assert_problem(kb.retire(article), 409, "invalid-transition")  # never published


def test_nobody_approves_their_own_revision(kb, factory):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    article = kb.write(headers=admin)
    kb.submit(article, headers=admin)
    assert_problem(kb.review(article, headers=admin), 403, "self-approval")
    # Sending it back needs a comment, and returns it to draft.
    assert kb.review(article, decision="rejected").status_code == 422
    back = kb.review(article, decision="rejected", comment="Add screenshots").json()
    assert back["state"] == "draft"


def test_every_published_version_is_kept_and_readers_see_the_published_one(kb, client):
    article = kb.published(body="First text", audience="everyone")
    edited = kb.edit(article, body="Second text, still a draft")
    assert edited.status_code == 200, edited.text
    assert edited.json()["state"] == "draft"  # a new revision of a published article
    # Readers still read version 1 while the revision waits.
    reader_view = kb.get(article, headers=kb.requester).json()
    assert (reader_view["view"], reader_view["body"], reader_view["state"]) == (
        "published",
        "First text",
        "published",
    )
    kb.submit(article)
    kb.review(article)
    versions = client.get(f"{ARTICLES}/{article['id']}/versions", headers=kb.author).json()
    assert [(v["number"], v["is_current"], v["title"]) for v in versions] == [
        (2, True, article["title"]),
        (1, False, article["title"]),
    ]
    first = client.get(f"{ARTICLES}/{article['id']}/versions/1", headers=kb.author).json()
    assert first["body"] == "First text"
    assert kb.get(article, headers=kb.requester).json()["body"] == "Second text, still a draft"
    # Readers see only the current version in the history.
    assert [v["number"] for v in client.get(
        f"{ARTICLES}/{article['id']}/versions", headers=kb.requester).json()] == [2]  # fmt: skip
    assert_problem(client.get(f"{ARTICLES}/{article['id']}/versions/1", headers=kb.requester), 404)


def test_agents_only_articles_and_drafts_are_hidden_from_requesters(kb, client):
    internal = kb.published(title="Restart the RADIUS cluster")  # audience agents (default)
    draft = kb.write(audience="everyone")
    for article in (internal, draft):
        assert_problem(kb.get(article, headers=kb.requester), 404)
    assert kb.get(internal, headers=kb.reviewer).status_code == 200  # managers are editors
    public = kb.published(audience="everyone", title="Connect to the guest Wi-Fi")
    listed = client.get(ARTICLES, headers=kb.requester).json()
    assert [item["id"] for item in listed["items"]] == [public["id"]]


def test_retiring_withdraws_the_article_but_keeps_its_versions(kb, client, session):
    article = kb.published(audience="everyone")
    retired = kb.retire(article, reason="Replaced by the new portal").json()
    assert (retired["state"], retired["retired_at"] is not None) == ("retired", True)
    assert_problem(kb.get(article, headers=kb.requester), 404)
    versions = client.get(f"{ARTICLES}/{article['id']}/versions", headers=kb.author).json()
    assert [(v["number"], v["is_current"]) for v in versions] == [(1, False)]
    kinds = [
        (event.kind, event.field, event.new_value)
        for event in session.scalars(
            select(Event)
            .where(Event.entity_type == "knowledge_article", Event.entity_id == article["id"])
            .order_by(Event.seq)
        )
    ]
    assert kinds == [
        ("created", None, article["number"]),
        ("state_changed", "state", "review"),
        ("approval_decided", "review", "approved"),
        ("state_changed", "state", "published"),
        ("state_changed", "state", "retired"),
    ]


def test_edits_need_the_current_version_and_log_each_field(kb, client, session):
    article = kb.write()
    missing = client.patch(f"{ARTICLES}/{article['id']}", json={"title": "x"}, headers=kb.author)
    assert_problem(missing, 428)
    assert kb.edit(article, title="New title", keywords=["a", "a", "b"]).status_code == 200
    stale = client.patch(
        f"{ARTICLES}/{article['id']}",
        json={"title": "Other"},
        headers={**kb.author, "If-Match": '"1"'},
    )
    assert assert_problem(stale, 412)["current_version"] == 2
    fields = [
        (event.field, event.new_value)
        for event in session.scalars(
            select(Event).where(
                Event.entity_type == "knowledge_article",
                Event.entity_id == article["id"],
                Event.kind == "field_changed",
            )
        )
    ]
    assert fields == [("title", "New title"), ("keywords", "a, b")]


def test_history_is_for_editors(kb, client):
    article = kb.published(audience="everyone")
    assert client.get(f"{ARTICLES}/{article['id']}/history", headers=kb.author).status_code == 200
    assert_problem(client.get(f"{ARTICLES}/{article['id']}/history", headers=kb.requester), 403)


def test_out_of_date_articles_are_listed(kb, client, session):
    from datetime import timedelta

    from operational.knowledge.models import Article

    fresh, stale = kb.published(title="Fresh"), kb.published(title="Stale")
    row = session.get(Article, stale["id"])
    row.last_published_at -= timedelta(days=400)
    session.flush()
    found = client.get(ARTICLES, params={"out_of_date": True}, headers=kb.author).json()
    assert [item["id"] for item in found["items"]] == [stale["id"]]
    current = client.get(ARTICLES, params={"out_of_date": False}, headers=kb.author).json()
    assert fresh["id"] in [item["id"] for item in current["items"]]
