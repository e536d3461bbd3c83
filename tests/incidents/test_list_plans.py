"""The statements of incident lists that must stay flat as the table grows (issue 14): PostgreSQL
must be able to reach their rows through an index, not by reading the table. Checked on the plans
of the statements the API issues, with sequential scans priced out (``enable_seqscan = off``) so
that the tiny test table does not make a scan the cheaper choice: a statement no index can serve
still plans a scan of the table (a ``Seq Scan``, or an index scan without an ``Index Cond``)."""

from collections.abc import Iterator

import pytest
from sqlalchemy import event, text

HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "set role", "reset role")


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.fixture
def plans_of(client, engine, session):
    """``plans_of(url, headers)``: the plan of each statement the request issued."""

    def capture(url: str, headers: dict) -> list[tuple[str, list[dict]]]:
        seen: list[tuple[str, object]] = []

        def record(_conn, _cursor, statement, parameters, *_args):
            if not statement.startswith(HARNESS) and not statement.startswith("EXPLAIN"):
                seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        try:
            response = client.get(url, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert response.status_code == 200, response.text
        connection = session.connection()
        connection.execute(text("set local enable_seqscan = off"))
        planned = []
        for statement, parameters in seen:
            found = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            planned.append((statement, list(_nodes(found.scalar()[0]["Plan"]))))
        return planned

    return capture


@pytest.fixture
def agent_headers_with_incidents(incidents, factory):
    agent = incidents.agent()
    for n in range(6):
        incidents.incident(actor=agent, title=f"Disk full on host {n}")
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

    filtered = [nodes for statement, nodes in planned if "websearch_to_tsquery" in statement]
    assert len(filtered) == 2  # the total and the page's ids
    for nodes in filtered:
        scanned = {node["Node Type"] for node in nodes_on(nodes, "incidents")}
        assert "Seq Scan" not in scanned, scanned
        assert {"ix_incidents_search_vector", "ix_incident_comments_search_vector"} <= {
            node.get("Index Name") for node in nodes
        }


def nodes_on(nodes: list[dict], table: str) -> list[dict]:
    return [node for node in nodes if node.get("Relation Name") == table]
