"""The Problems and knowledge page under AppTest, against the real marts of the hand-made
problem history (tests/dbt/problem_history.py), whose figures tests/dbt/test_problem_marts.py
computes by hand. Signed in as a manager directly in the session (the sign-in itself is
tested with the real API in test_pages.py)."""

import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.auth import SignedIn
from operational.auth.permissions import Role, permissions_for
from operational.core.config import get_settings
from tests.dashboards.conftest import APP, MARCH
from tests.dbt.conftest import DbtDatabase, dbt_database  # noqa: F401 (fixture)
from tests.dbt.problem_history import ProblemHistory

pytestmark = pytest.mark.slow
PAGE = "app_pages/problems_knowledge.py"


@pytest.fixture(scope="module")
def marts(dbt_database: DbtDatabase) -> DbtDatabase:  # noqa: F811
    history = ProblemHistory(dbt_database.url)
    try:
        history.phase_one()
        history.phase_two()
    finally:
        history.dispose()
    dbt_database.dbt("build", "--exclude-resource-type", "unit_test",
                     variables={"as_of_date": "2026-03-12"})  # fmt: skip
    return dbt_database


@pytest.fixture
def page_settings(marts: DbtDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[DbtDatabase]:
    from streamlit import config as streamlit_config

    monkeypatch.setenv("ITSM_MARTS_URL", marts.url)
    monkeypatch.setenv("ITSM_API_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ITSM_DASHBOARDS_CACHE_SECONDS", "0")
    streamlit_config.set_option("runner.magicEnabled", False)
    get_settings.cache_clear()
    yield marts
    import streamlit as st

    from dashboards import queries

    gc.collect()
    queries.connection().engine.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()
    get_settings.cache_clear()


def opened(params: dict[str, str]) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params.update(params)
    app.session_state["signed_in"] = SignedIn(
        user_id=1,
        email="manager@example.com",
        display_name="Manager",
        roles=(Role.manager.value,),
        permissions=permissions_for([Role.manager.value]),
        access_token="unused",
        refresh_token=None,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, [item.value for item in app.exception]
    assert not app.error, [item.value for item in app.error]
    return app


def frame_with(app: AppTest, column: str):
    return next(item.value for item in app.dataframe if column in item.value.columns)


def test_the_page_shows_the_marts_figures_and_drills_down(page_settings):
    app = opened(MARCH)
    times = frame_with(app, "median_hours").set_index("measure")
    assert times.loc["time_to_fix", "median_hours"] == pytest.approx(168.0)  # 10,080 minutes
    assert times.loc["time_to_root_cause", "median_hours"] == pytest.approx(48.0)
    problems = frame_with(app, "problem_number")
    assert set(problems["title"]) == {"PRB-1 mail store", "PRB-2 calendar"}
    mail = problems.set_index("title").loc["PRB-1 mail store"]
    assert (mail["linked_incident_count"], mail["recurrence_count"]) == (3, 1)
    assert "/api/v1/problems/" in mail["api_url"]

    # Drill down: the incidents behind PRB-1.
    app.selectbox(key="problems_pick").select(mail["problem_number"]).run()
    incidents = frame_with(app, "incident_number")
    assert list(incidents["title"]) == [
        "INC-1 mail down",
        "INC-3 mail slow",
        "INC-4 mail down again",
    ]
    assert list(incidents["is_recurrence"]) == [False, False, True]
    assert list(incidents["had_known_error_at_open"]) == [False, True, True]

    # The knowledge base: KB-A is out of date (due 6 March), KB-B never used.
    app.radio(key="articles_list").set_value("Out of date (review period passed)").run()
    assert list(frame_with(app, "article_number")["title"]) == ["KB-A Mail quota"]
    app.radio(key="articles_list").set_value("Never used").run()
    assert list(frame_with(app, "article_number")["title"]) == ["KB-B Calendar sharing"]


def test_a_range_without_problems_says_so(page_settings):
    app = opened({"from": "2025-01-01", "to": "2025-01-31", "grain": "week"})
    assert any("No problem" in item.value for item in app.info)
