"""A problem search must reach its matches through indexes as the table grows (issue 14): its
filter is "the problem's own words OR its custom fields' words", and PostgreSQL serves such an OR
from indexes only when each side has one. Checked on the plans of the statements the API issues,
as tests/incidents/test_list_plans.py does (a grown, analyzed table; sequential scans priced
out)."""

from tests.plans import assert_searched_through, grow, settle

INDEXES = ("ix_problems_search_vector", "ix_problems_custom_fields_search")


def _grow(session) -> None:
    """Problems that match no search of the test (copies of the first one under other numbers,
    titles and sites)."""
    grow(
        session,
        "problems",
        {
            "number": "'PRBF' || lpad(g::text, 7, '0')",
            "title": "'Printer jam ' || g",
            "symptom": "null",
            "custom_fields": "jsonb_build_object('site', 'Hall ' || g)",
        },
    )
    settle(session, ("problems",), INDEXES)


def test_a_search_goes_through_both_text_indexes(
    client,
    plans_of,
    problems,
    agent_headers,
    session,
):
    problems.create(title="Mail server drops connections")
    _grow(session)

    planned = plans_of("/api/v1/problems?q=mail&size=2", agent_headers)

    assert_searched_through(
        planned, marker="websearch_to_tsquery", table="problems", indexes=INDEXES
    )
