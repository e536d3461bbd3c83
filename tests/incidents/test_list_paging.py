"""Incident lists page by keyset (after=) beside page numbers, and keep their total cheap: exact
up to ITSM_EXACT_TOTAL_LIMIT matches, the planner's estimate above it, saying which."""

import pytest

from tests.conftest import assert_problem


@pytest.fixture
def listed(client, incidents, factory):
    agent = incidents.agent()
    requester = incidents.requester()
    made = [
        incidents.incident(
            actor=agent, requester_id=requester.id, title=f"Disk full {n}", urgency=1 + n % 3
        )
        for n in range(7)
    ]
    return factory.auth_headers(agent), requester, made


def _walk(client, headers, query: str) -> list[int]:
    seen: list[int] = []
    after = None
    for _ in range(10):
        url = f"/api/v1/incidents?{query}&size=3" + (f"&after={after}" if after else "")
        body = client.get(url, headers=headers).json()
        seen += [item["id"] for item in body["items"]]
        after = body["next_after"]
        if after is None:
            return seen
    raise AssertionError("keyset pages did not end")


@pytest.mark.parametrize("sort", ["", "&sort=urgency,-number", "&sort=-resolved_at"])
def test_keyset_pages_follow_the_same_order_as_page_numbers(client, listed, sort):
    headers, requester, made = listed
    query = f"requester_id={requester.id}{sort}"
    by_number = client.get(f"/api/v1/incidents?{query}&size=50", headers=headers).json()

    walked = _walk(client, headers, query)

    assert walked == [item["id"] for item in by_number["items"]]
    assert sorted(walked) == sorted(incident.id for incident in made)


def test_a_cursor_that_is_not_one_is_a_400(client, listed):
    headers, requester, _ = listed
    for cursor in ("nonsense", "WzFd", "W251bGwsICJ4Il0"):
        response = client.get(
            f"/api/v1/incidents?requester_id={requester.id}&after={cursor}", headers=headers
        )
        assert_problem(response, 400)


def test_the_total_is_exact_up_to_the_limit_then_an_estimate(client, listed, settings_env):
    headers, requester, made = listed
    url = f"/api/v1/incidents?requester_id={requester.id}&size=2"

    settings_env(exact_total_limit="10")
    exact = client.get(url, headers=headers).json()
    settings_env(exact_total_limit="3")
    estimated = client.get(url, headers=headers).json()

    assert (exact["total"], exact["total_is_estimate"]) == (len(made), False)
    assert estimated["total_is_estimate"] is True
    assert estimated["total"] > 3
    assert [item["id"] for item in estimated["items"]] == [item["id"] for item in exact["items"]]
