"""The statements of incident lists that must stay flat as the table grows (issue 14): PostgreSQL
must be able to reach their rows through an index, not by reading the table. Checked on the plans
of the statements the API issues, over tables grown to a few thousand rows and analyzed, with
sequential scans priced out (tests/plans.py): a statement no index can serve still plans a read of
the whole table (a ``Seq Scan``, or an index scan without an ``Index Cond``)."""

import pytest
from sqlalchemy import text

from tests.plans import FILLER_ROWS, assert_searched_through, grow, settle


def _grow(session) -> None:
    """FILLER_ROWS incidents and comments that match no search of the tests (copies of the first
    incident under other numbers and titles)."""
    grow(
        session,
        "incidents",
        {"number": "'INCF' || lpad(g::text, 7, '0')", "title": "'Printer jam ' || g"},
    )
    session.connection().execute(
        text(
            "insert into operational.incident_comments (incident_id, is_public, body)"
            " select (select min(id) from operational.incidents), true, 'Toner replaced ' || g"
            " from generate_series(1, :rows) as g"
        ),
        {"rows": FILLER_ROWS},
    )
    settle(
        session,
        ("incidents", "incident_comments"),
        ("ix_incidents_search_vector", "ix_incident_comments_search_vector"),
    )


@pytest.fixture
def agent_headers_with_incidents(incidents, factory, session):
    agent = incidents.agent()
    for n in range(6):
        incidents.incident(actor=agent, title=f"Disk full on host {n}")
    _grow(session)
    return factory.auth_headers(agent)


def test_a_keyset_page_seeks_to_its_cursor(client, plans_of, agent_headers_with_incidents):
    headers = agent_headers_with_incidents
    first = client.get("/api/v1/incidents?size=2", headers=headers).json()

    planned = plans_of(f"/api/v1/incidents?size=2&after={first['next_after']}", headers)

    (page,) = [
        nodes
        for statement, nodes in planned
        if "ORDER BY operational.incidents.opened_at" in statement
    ]
    # An index scan (or a bitmap index scan) bounded by the cursor's first key; the OR alone
    # gives no "<=" bound, only a filter over every row before the cursor's.
    seeks = [node for node in page if "opened_at <=" in node.get("Index Cond", "")]
    assert seeks, page


@pytest.mark.parametrize("viewer", ["agent", "requester"])
def test_a_search_goes_through_the_text_indexes(
    client, plans_of, incidents, factory, agent_headers_with_incidents, viewer
):
    headers = agent_headers_with_incidents
    if viewer == "requester":
        requester = incidents.requester()
        incidents.incident(actor=requester, requester_id=requester.id, title="Disk full again")
        headers = factory.auth_headers(requester)

    planned = plans_of("/api/v1/incidents?q=disk&size=2", headers)

    assert_searched_through(
        planned,
        marker="websearch_to_tsquery",
        table="incidents",
        indexes=("ix_incidents_search_vector", "ix_incident_comments_search_vector"),
    )
