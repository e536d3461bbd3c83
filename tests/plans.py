"""Plans of the statements a request issues, for the tests that hold lists and searches to
plans that stay flat as a table grows (issue 14: tests/*/test_list_plans.py). The root conftest
loads it as a plugin, so ``plans_of`` is a fixture everywhere.

Tables of a handful of rows would not do: once analyzed (autovacuum does it whenever a worker's
database has seen enough writes), a whole-index scan of a tiny table is the cheapest plan whatever
indexes exist. So the tests grow the table to a few thousand rows that match nothing they search
for (``grow``), settle its indexes and statistics, and plan with sequential scans priced out:
a statement no index can serve still plans a read of the whole table."""

from collections.abc import Iterable, Iterator

import pytest
from sqlalchemy import event, text

HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "set role", "reset role")
FILLER_ROWS = 4000


def _nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def nodes_on(nodes: list[dict], table: str) -> list[dict]:
    return [node for node in nodes if node.get("Relation Name") == table]


def assert_searched_through(
    planned: list[tuple[str, list[dict]]], *, marker: str, table: str, indexes: Iterable[str]
) -> None:
    """The list's two statements that hold ``marker`` (the total and the page) read ``table``
    through all of ``indexes``, and none by a sequential scan."""
    filtered = [nodes for statement, nodes in planned if marker in statement]
    assert len(filtered) == 2, [statement for statement, _ in planned]
    for nodes in filtered:
        scanned = {node["Node Type"] for node in nodes_on(nodes, table)}
        assert "Seq Scan" not in scanned, scanned
        assert set(indexes) <= {node.get("Index Name") for node in nodes}


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


def grow(session, table: str, values: dict[str, str], rows: int = FILLER_ROWS) -> None:
    """``rows`` copies of the table's first row, with ``values`` (column: SQL over the series'
    ``g``) instead of its own: rows that the test's searches must not match."""
    connection = session.connection()
    columns = connection.scalars(
        text(
            "select column_name from information_schema.columns"
            " where table_schema = 'operational' and table_name = :table"
            " and is_generated = 'NEVER' and is_identity = 'NO'"
            " and column_name <> 'id' and not (column_name = any(:given))"
        ),
        {"table": table, "given": list(values)},
    ).all()
    copied = ", ".join(columns)
    connection.execute(
        text(
            f"insert into operational.{table} ({', '.join(values)}, {copied})"
            f" select {', '.join(values.values())}, {copied}"
            f" from operational.{table}, generate_series(1, :rows) as g"
            f" where id = (select min(id) from operational.{table})"
        ),
        {"rows": rows},
    )


def settle(session, tables: tuple[str, ...], gin_indexes: tuple[str, ...]) -> None:
    """What autovacuum does on a live table, at once: rows inserted into a GIN index wait in its
    pending list (fastupdate) until a vacuum moves them into the index proper, and the planner
    prices scanning that list (4,000 rows of it make a text index look dear); then fresh
    statistics."""
    connection = session.connection()
    for index in gin_indexes:
        connection.execute(
            text("select gin_clean_pending_list(cast(:index as regclass))"),
            {"index": f"operational.{index}"},
        )
    connection.execute(text("analyze " + ", ".join(f"operational.{t}" for t in tables)))
