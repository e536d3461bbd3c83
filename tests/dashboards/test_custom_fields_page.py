"""The Custom fields page under AppTest, on real marts built from records with custom field
values (tests/dbt/test_custom_field_marts.py writes the incidents,
tests/dbt/test_problem_request_custom_field_marts.py imports the problems and requests): the
filter slices incidents, problems or requests by a choice field and its value, and the page
shows the mart's rows and the records behind them."""

import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.auth import SignedIn
from operational.auth.permissions import Role, permissions_for
from operational.core.config import get_settings
from tests.dashboards.conftest import APP
from tests.dbt.conftest import DbtDatabase, dbt_database  # noqa: F401 (fixture)
from tests.dbt.test_custom_field_marts import write_records
from tests.dbt.test_problem_request_custom_field_marts import (
    write_records as import_problems_and_requests,
)

pytestmark = pytest.mark.slow
PAGE = "app_pages/custom_fields.py"
MARCH = {"from": "2026-03-01", "to": "2026-03-31", "grain": "week"}


@pytest.fixture(scope="module")
def marts(dbt_database: DbtDatabase, tmp_path_factory: pytest.TempPathFactory) -> DbtDatabase:  # noqa: F811
    write_records(dbt_database.url)
    import_problems_and_requests(dbt_database.url, tmp_path_factory.mktemp("exports"))
    dbt_database.dbt("build", "--exclude-resource-type", "unit_test",
                     variables={"as_of_date": "2026-03-31"})  # fmt: skip
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


def test_the_page_slices_by_a_choice_field_and_its_value(page_settings):
    app = opened(MARCH)
    assert app.selectbox(key="custom_field_pick_incident").value == "site"
    rollup = frame_with(app, "opened_count")
    assert sorted(zip(rollup["choice_value"], rollup["opened_count"], strict=True)) == [
        ("Delft", 1),
        ("Rotterdam", 2),
    ]
    assert set(frame_with(app, "incident_number")["title"]) == {
        "Badge reader",
        "Projector",
        "Printer",
    }

    app.selectbox(key="custom_field_value_incident").select("Rotterdam").run()
    assert not app.exception
    rollup = frame_with(app, "opened_count").set_index("choice_value")
    assert list(rollup.index) == ["Rotterdam"]
    assert rollup.loc["Rotterdam", "resolved_count"] == 1
    assert rollup.loc["Rotterdam", "mttr_mean_hours"] == pytest.approx(2.0)
    incidents = frame_with(app, "incident_number")
    assert set(incidents["title"]) == {"Badge reader", "Projector"}
    assert all("/api/v1/incidents/" in url for url in incidents["api_url"])


def test_the_page_slices_problems_by_a_choice_field(page_settings):
    app = opened(MARCH)
    app.radio(key="custom_field_records").set_value("problem").run()
    assert not app.exception, [item.value for item in app.exception]
    assert app.selectbox(key="custom_field_pick_problem").value == "vendor"
    rollup = frame_with(app, "opened_count")
    assert sorted(zip(rollup["choice_value"], rollup["resolved_count"], strict=True)) == [
        ("Acme", 1),
        ("Globex", 0),
    ]
    acme = rollup.set_index("choice_value").loc["Acme"]
    assert acme["fix_mean_hours"] == pytest.approx(3.0)

    app.selectbox(key="custom_field_value_problem").select("Globex").run()
    problems = frame_with(app, "problem_number")
    assert list(problems["title"]) == ["Slow VPN"]
    assert all("/api/v1/problems/" in url for url in problems["api_url"])


def test_the_page_slices_requests_by_a_choice_field(page_settings):
    app = opened(MARCH)
    app.radio(key="custom_field_records").set_value("request").run()
    assert not app.exception, [item.value for item in app.exception]
    assert app.selectbox(key="custom_field_pick_request").value == "cost_centre"
    rollup = frame_with(app, "closed_count").set_index("choice_value")
    assert sorted(rollup.index) == ["Delft", "Utrecht"]
    assert rollup.loc["Delft", "close_mean_hours"] == pytest.approx(2.0)
    requests = frame_with(app, "request_number")
    assert sorted(requests["request_number"]) == ["R-1", "R-2"]
    assert all("/api/v1/requests/" in url for url in requests["api_url"])


def test_a_range_without_values_says_so(page_settings):
    app = opened({"from": "2025-01-01", "to": "2025-01-31", "grain": "week"})
    assert any("No data" in item.value for item in app.info)
