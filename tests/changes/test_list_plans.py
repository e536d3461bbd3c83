"""A change search must reach its matches through indexes as the table grows (issue 14): its
filter is "the title or the number contains the text, OR the custom fields' words match it",
and PostgreSQL serves such an OR from indexes only when each side has one (pg_trgm's trigram
indexes for the substrings, migration 0030). Checked on the plans of the statements the API
issues, as tests/incidents/test_list_plans.py does (a grown, analyzed table; sequential scans
priced out)."""

import pytest
from sqlalchemy import text

from tests.incidents.test_list_plans import nodes_on, plans_of  # noqa: F401 (fixture)

FILLER_ROWS = 4000
INDEXES = (
    "ix_changes_title_trigram",
    "ix_changes_number_trigram",
    "ix_changes_custom_fields_search",
)


def _grow(session) -> None:
    """FILLER_ROWS changes that match no search of the test (copies of the first one under
    other numbers and titles), then fresh statistics."""
    connection = session.connection()
    columns = connection.scalars(
        text(
            "select column_name from information_schema.columns"
            " where table_schema = 'operational' and table_name = 'changes'"
            " and is_generated = 'NEVER' and is_identity = 'NO'"
            " and column_name not in ('id', 'number', 'title', 'custom_fields')"
        )
    ).all()
    copied = ", ".join(columns)
    connection.execute(
        text(
            f"insert into operational.changes (number, title, custom_fields, {copied})"
            " select 'CHGF' || lpad(g::text, 7, '0'), 'Printer firmware ' || g,"
            f" jsonb_build_object('site', 'Hall ' || g), {copied}"
            " from operational.changes, generate_series(1, :rows) as g"
            " where id = (select min(id) from operational.changes)"
        ),
        {"rows": FILLER_ROWS},
    )
    for index in INDEXES:  # what autovacuum does on a live table (see the incidents' test)
        connection.execute(
            text("select gin_clean_pending_list(cast(:index as regclass))"),
            {"index": f"operational.{index}"},
        )
    connection.execute(text("analyze operational.changes"))


@pytest.mark.parametrize("by", ["title", "number"])
def test_a_search_goes_through_the_indexes(
    changes,
    client,
    headers_for,
    plans_of,  # noqa: F811 (the fixture imported above)
    session,
    by,
):
    change = changes.change(title="Migrate ledger")
    _grow(session)
    searched = {"title": "ledger", "number": change.number}[by]

    planned = plans_of(f"/api/v1/changes?q={searched}&size=2", headers_for("auditor"))

    filtered = [nodes for statement, nodes in planned if "ILIKE" in statement]
    assert len(filtered) == 2  # the total and the page
    for nodes in filtered:
        scanned = {node["Node Type"] for node in nodes_on(nodes, "changes")}
        assert "Seq Scan" not in scanned, scanned
        assert set(INDEXES) <= {node.get("Index Name") for node in nodes}
