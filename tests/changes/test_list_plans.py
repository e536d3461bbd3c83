"""A change search must reach its matches through indexes as the table grows (issue 14): its
filter is "the title or the number contains the text, OR the custom fields' words match it",
and PostgreSQL serves such an OR from indexes only when each side has one (pg_trgm's trigram
indexes for the substrings, migration 0030). Checked on the plans of the statements the API
issues, as tests/incidents/test_list_plans.py does (a grown, analyzed table; sequential scans
priced out)."""

import pytest

from tests.plans import assert_searched_through, grow, settle

INDEXES = (
    "ix_changes_title_trigram",
    "ix_changes_number_trigram",
    "ix_changes_custom_fields_search",
)


def _grow(session) -> None:
    """Changes that match no search of the test (copies of the first one under other numbers,
    titles and sites)."""
    grow(
        session,
        "changes",
        {
            "number": "'CHGF' || lpad(g::text, 7, '0')",
            "title": "'Printer firmware ' || g",
            "custom_fields": "jsonb_build_object('site', 'Hall ' || g)",
        },
    )
    settle(session, ("changes",), INDEXES)


@pytest.mark.parametrize("by", ["title", "number"])
def test_a_search_goes_through_the_indexes(
    changes,
    client,
    headers_for,
    plans_of,
    session,
    by,
):
    change = changes.change(title="Migrate ledger")
    _grow(session)
    searched = {"title": "ledger", "number": change.number}[by]

    planned = plans_of(f"/api/v1/changes?q={searched}&size=2", headers_for("auditor"))

    assert_searched_through(planned, marker="ILIKE", table="changes", indexes=INDEXES)
