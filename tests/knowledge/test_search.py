from tests.conftest import assert_problem
from tests.knowledge.conftest import URL
from tests.problems.conftest import ProblemApi


def _numbers(found):
    return [item["number"] for item in found["items"]]


def test_ranking_puts_title_and_keyword_matches_first(kb):
    in_body = kb.published(
        title="Laptop docking station", body="If the printer is offline, see the printing article."
    )
    in_title = kb.published(title="Printer shows offline", body="Power-cycle it and wait.")
    in_keywords = kb.published(
        title="Floor 3 devices", body="Check the queue.", keywords=["printer"]
    )
    kb.published(title="Unrelated", body="Nothing about that here.")
    found = kb.search(q="printer")
    assert found["total"] == 3
    assert set(_numbers(found)[:2]) == {in_title["number"], in_keywords["number"]}
    assert _numbers(found)[2] == in_body["number"]
    ranks = [item["rank"] for item in found["items"]]
    assert ranks == sorted(ranks, reverse=True) and ranks[-1] > 0


def test_words_are_stemmed_by_each_articles_language(kb):
    english = kb.published(title="Printers print blank pages", body="Replace the toner.")
    german = kb.published(
        title="Drucker druckt leere Seiten", body="Den Toner ersetzen.", language="german"
    )
    # "printing" stems to "print" in English; "Druckers" to "druck" in German.
    assert _numbers(kb.search(q="printing")) == [english["number"]]
    assert _numbers(kb.search(q="Druckers")) == [german["number"]]
    assert _numbers(kb.search(q="Druckers", language="english")) == []


def test_snippets_highlight_matches_and_are_escaped(kb):
    kb.published(
        title="Mail quota",
        body="When <script>alert(1)</script> the mailbox is full, archive old mail first.",
    )
    [hit] = kb.search(q="mailbox")["items"]
    assert "<mark>mailbox</mark>" in hit["snippet"]
    assert "<script>" not in hit["snippet"]


def test_filters_and_paging(kb):
    vpn = kb.published(title="VPN drops every hour", service="VPN", category="Network",
                       keywords=["tunnel"])  # fmt: skip
    kb.published(title="VPN client install", service="Laptops", category="Software")
    assert _numbers(kb.search(q="vpn", service="vpn")) == [vpn["number"]]
    assert _numbers(kb.search(q="vpn", category="Network")) == [vpn["number"]]
    assert _numbers(kb.search(q="vpn", keyword="tunnel")) == [vpn["number"]]
    first = kb.search(q="vpn", size=1)
    second = kb.search(q="vpn", size=1, page=2)
    assert first["total"] == second["total"] == 2
    assert len(_numbers(first) + _numbers(second)) == 2
    assert vpn["number"] in _numbers(first) + _numbers(second)
    assert _numbers(first) != _numbers(second)
    refused = kb.client.get(f"{URL}/search", params={"q": "x", "sort": "title"}, headers=kb.author)
    assert_problem(refused, 400)


def test_known_errors_are_searched_with_articles_for_agents_only(kb, client, factory):
    kb.published(title="Outlook asks for the password again", audience="everyone")
    problems = ProblemApi(client, kb.author)
    problem = problems.create(title="Outlook password prompts loop")
    problems.patch(
        problems.get(problem),
        root_cause="Modern authentication disabled on the tenant",
        workaround="Sign out of Office and sign in with the web account",
    )
    problems.publish(problem)
    problems.create(title="Outlook password is not yet a known error")  # unpublished: not found
    found = kb.search(q="outlook password")
    assert sorted(item["kind"] for item in found["items"]) == ["article", "known_error"]
    known = next(item for item in found["items"] if item["kind"] == "known_error")
    assert known["workaround"].startswith("Sign out of Office")
    assert known["url"] == f"/api/v1/problems/{problem['id']}"
    only_articles = kb.search(q="outlook password", kind="article")
    assert [item["kind"] for item in only_articles["items"]] == ["article"]
    # Requesters see articles written for everyone, and no known errors.
    as_requester = kb.search(headers=kb.requester, q="outlook password")
    assert [item["kind"] for item in as_requester["items"]] == ["article"]


def test_retired_and_draft_articles_are_not_found(kb):
    retired = kb.published(title="Legacy fax gateway")
    kb.retire(retired)
    kb.write(title="Fax gateway draft")
    assert kb.search(q="fax")["total"] == 0


def test_an_empty_query_lists_the_newest(kb):
    older = kb.published(title="Older")
    newer = kb.published(title="Newer")
    assert _numbers(kb.search())[:2] == [newer["number"], older["number"]]
