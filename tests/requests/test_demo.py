"""The demo's requests: a catalog of realistic items and a seeded history through the flows."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from ingest import loader, sources
from operational.requests.models import CatalogItem, RequestItem
from sampledata import demo
from sampledata.requests import seed_requests

pytestmark = pytest.mark.slow

START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 31, 23, 59, tzinfo=UTC)


def _history(session) -> list[tuple]:
    return [
        (item.item_name, item.state, item.sla_state, item.opened_at, item.delivered_at)
        for item in session.scalars(select(RequestItem).order_by(RequestItem.opened_at))
    ]


def test_the_demo_adds_a_catalog_and_a_seeded_request_history(session, tmp_path):
    export = demo.write_demo_export(tmp_path, seed=3, incidents=100, end_date=date(2024, 3, 31))
    for data_file, mapping_file in demo.IMPORT_ORDER:
        parsed = sources.parse(
            "generic", export.directory / data_file, mapping=export.directory / mapping_file
        )
        loader.load(parsed, engine=session.connection())
    runs = []
    for _ in range(2):
        with session.begin_nested() as savepoint:
            made = seed_requests(session=session, start=START, end=END, seed=5, per_month=40)
            runs.append((made, _history(session)))
            savepoint.rollback()
    (made, history), (again, history_again) = runs
    assert made == again and history == history_again  # the same seed, the same history
    assert 20 <= made.catalog_items <= 30
    assert made.requests > 100
    assert made.rejected > 0 and made.late > 0 and made.delivered > made.requests / 2
    assert made.reminded > 0  # some approvals waited past their reminder period
    states = {state for _, state, _, _, _ in history}
    assert {"delivered", "rejected"} <= states
    assert all(START <= opened <= END for _, _, _, opened, _ in history)
    assert session.scalar(select(CatalogItem.id).limit(1)) is None  # rolled back
