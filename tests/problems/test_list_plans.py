"""A problem search must reach its matches through indexes as the table grows (issue 14): its
filter is "the problem's own words OR its custom fields' words", and PostgreSQL serves such an OR
from indexes only when each side has one. Checked on the plans of the statements the API issues,
as tests/incidents/test_list_plans.py does (a grown, analyzed table; sequential scans priced
out)."""

from sqlalchemy import text

from tests.incidents.test_list_plans import nodes_on, plans_of  # noqa: F401 (fixture)

FILLER_ROWS = 4000
INDEXES = ("ix_problems_search_vector", "ix_problems_custom_fields_search")


def _grow(session) -> None:
    """FILLER_ROWS problems that match no search of the test (copies of the first one under
    other numbers and titles), then fresh statistics."""
    connection = session.connection()
    columns = connection.scalars(
        text(
            "select column_name from information_schema.columns"
            " where table_schema = 'operational' and table_name = 'problems'"
            " and is_generated = 'NEVER' and is_identity = 'NO'"
            " and column_name not in ('id', 'number', 'title', 'symptom', 'custom_fields')"
        )
    ).all()
    copied = ", ".join(columns)
    connection.execute(
        text(
            f"insert into operational.problems (number, title, custom_fields, {copied})"
            " select 'PRBF' || lpad(g::text, 7, '0'), 'Printer jam ' || g,"
            f" jsonb_build_object('site', 'Hall ' || g), {copied}"
            " from operational.problems, generate_series(1, :rows) as g"
            " where id = (select min(id) from operational.problems)"
        ),
        {"rows": FILLER_ROWS},
    )
    for index in INDEXES:  # what autovacuum does on a live table (see the incidents' test)
        connection.execute(
            text("select gin_clean_pending_list(cast(:index as regclass))"),
            {"index": f"operational.{index}"},
        )
    connection.execute(text("analyze operational.problems"))


def test_a_search_goes_through_both_text_indexes(
    client,
    plans_of,  # noqa: F811 (the fixture imported above)
    problems,
    agent_headers,
    session,
):
    problems.create(title="Mail server drops connections")
    _grow(session)

    planned = plans_of("/api/v1/problems?q=mail&size=2", agent_headers)

    filtered = [nodes for statement, nodes in planned if "websearch_to_tsquery" in statement]
    assert len(filtered) == 2  # the total and the page
    for nodes in filtered:
        scanned = {node["Node Type"] for node in nodes_on(nodes, "problems")}
        assert "Seq Scan" not in scanned, scanned
        assert set(INDEXES) <= {node.get("Index Name") for node in nodes}
