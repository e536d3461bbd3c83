"""The statements of incident lists that must stay flat as the table grows (issue 14): PostgreSQL
must be able to reach their rows through an index, not by reading the table. Checked on the plans
of the statements the API issues, over tables grown to a few thousand rows and analyzed, with
sequential scans priced out (``enable_seqscan = off``): a statement no index can serve still
plans a read of the whole table (a ``Seq Scan``, or an index scan without an ``Index Cond``).
Tables of a handful of rows would not do: once analyzed (autovacuum does it whenever a worker's
database has seen enough writes), a whole-index scan of a tiny table is the cheapest plan whatever
indexes exist, so such a test would pass or fail with the tests that ran before it."""

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


FILLER_ROWS = 4000


def _grow(session) -> None:
    """FILLER_ROWS incidents and comments that match no search of the tests (copies of the first
    incident under other numbers and titles), then fresh statistics: what the planner costs."""
    connection = session.connection()
    columns = connection.scalars(
        text(
            "select column_name from information_schema.columns"
            " where table_schema = 'operational' and table_name = 'incidents'"
            " and is_generated = 'NEVER' and is_identity = 'NO'"
            " and column_name not in ('id', 'number', 'title')"
        )
    ).all()
    copied = ", ".join(columns)
    connection.execute(
        text(
            f"insert into operational.incidents (number, title, {copied})"
            f" select 'INCF' || lpad(g::text, 7, '0'), 'Printer jam ' || g, {copied}"
            " from operational.incidents, generate_series(1, :rows) as g"
            " where id = (select min(id) from operational.incidents)"
        ),
        {"rows": FILLER_ROWS},
    )
    connection.execute(
        text(
            "insert into operational.incident_comments (incident_id, is_public, body)"
            " select (select min(id) from operational.incidents), true, 'Toner replaced ' || g"
            " from generate_series(1, :rows) as g"
        ),
        {"rows": FILLER_ROWS},
    )
    # Rows inserted into a GIN index wait in its pending list (fastupdate) until a vacuum moves
    # them into the index proper; the planner prices scanning that list, and 4,000 rows of it make
    # the text indexes look dear. Autovacuum keeps the list short on a live table; here, at once.
    for index in ("ix_incidents_search_vector", "ix_incident_comments_search_vector"):
        connection.execute(
            text("select gin_clean_pending_list(cast(:index as regclass))"),
            {"index": f"operational.{index}"},
        )
    connection.execute(text("analyze operational.incidents, operational.incident_comments"))


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
