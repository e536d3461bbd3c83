"""End to end: ``itsm dashboards`` serves Streamlit on loopback and headless Chromium (Debian's
package, driven by Playwright) signs in and opens every page. No page may show an exception or
an error box; a screenshot of each is saved under test-artifacts/dashboards/.

This test is never skipped: without /usr/bin/chromium it fails and says how to install it.
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboards import browser
from tests.dashboards.conftest import ACCOUNTS, MARCH, REPOSITORY, Server, Stack, free_port

pytestmark = pytest.mark.slow

ARTIFACTS = REPOSITORY / "test-artifacts" / "dashboards"
MARCH_QUERY = "?" + "&".join(f"{key}={value}" for key, value in MARCH.items())


@pytest.fixture(scope="module")
def dashboards_url(stack: Stack) -> Iterator[str]:
    """``itsm dashboards`` as a person starts it: no ITSM_MARTS_URL nor ITSM_PERSONAL_MARTS_URL,
    so the command enables the analyst and auditor roles itself (with the passwords kept in
    ITSM_HOME, the ones the suite already uses)."""
    port = free_port()
    environment = {
        **os.environ,
        "ITSM_ENVIRONMENT": "test",
        "ITSM_DATABASE_URL": stack.url,
        "ITSM_HOME": str(stack.home),
        "ITSM_API_BASE_URL": stack.api_base_url,
        "ITSM_LOG_JSON": "false",
    }
    environment.pop("ITSM_MARTS_URL", None)
    environment.pop("ITSM_PERSONAL_MARTS_URL", None)
    server = Server(
        [str(Path(sys.executable).with_name("itsm")), "dashboards", "--port", str(port)],
        env=environment,
    )
    try:
        server.wait_for("You can now view your Streamlit app")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium():
    try:
        with browser.chromium() as launched:
            yield launched
    except browser.ChromiumMissing as missing:
        pytest.fail(str(missing))


def errors_on(page) -> list[str]:
    return page.locator(browser.ERROR_SELECTOR).all_inner_texts()


def test_every_page_opens_in_a_real_browser_without_an_error(dashboards_url: str, chromium):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport=browser.VIEWPORT)
    manager = ACCOUNTS["manager"]
    browser.sign_in(
        page, dashboards_url, email=manager.email, password=manager.password, query=MARCH_QUERY
    )
    for target in browser.PAGES:
        browser.open_page(page, target)
        page.screenshot(path=str(ARTIFACTS / f"{target.path}.png"))
        assert errors_on(page) == [], target.path
        # The filters stay in the URL from page to page.
        assert "from=2026-03-01" in page.url and "grain=month" in page.url, page.url
    page.close()


def test_a_kpi_opens_its_tickets_in_the_browser(dashboards_url: str, chromium):
    page = chromium.new_page(viewport=browser.VIEWPORT)
    manager = ACCOUNTS["manager"]
    browser.sign_in(
        page, dashboards_url, email=manager.email, password=manager.password, query=MARCH_QUERY
    )
    # Streamlit marks a keyed widget's container with the class st-key-<key>.
    page.locator(".st-key-overview_kpi_mttr button").first.click()
    page.get_by_text("— 3 incidents").wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    browser.wait_until_rendered(page, "Overview")
    page.screenshot(path=str(ARTIFACTS / "overview_tickets.png"))
    assert errors_on(page) == []
    page.close()


def test_clicking_a_chart_point_lists_its_tickets(dashboards_url: str, chromium):
    """Two clicks from "resolution compliance fell" to the breached tickets: the SLA page, then
    the point."""
    from dashboards.charts import OKABE_ITO

    page = chromium.new_page(viewport=browser.VIEWPORT)
    manager = ACCOUNTS["manager"]
    browser.sign_in(
        page, dashboards_url, email=manager.email, password=manager.password, query=MARCH_QUERY
    )
    browser.open_page(page, browser.PAGES[1])
    # Resolution is the first series of the compliance chart, drawn in the palette's first colour.
    browser.click_colour(page.locator(".st-key-sla_trend"), OKABE_ITO[0])
    page.get_by_text("Incidents whose resolution timer breached").wait_for()
    browser.wait_until_rendered(page, "SLA")
    assert page.get_by_text("— 1 incident", exact=False).count() == 1
    page.screenshot(path=str(ARTIFACTS / "sla_clicked.png"))
    assert errors_on(page) == []
    page.close()


def test_a_shared_link_opens_its_page_and_filters_after_sign_in(dashboards_url: str, chromium):
    page = chromium.new_page(viewport=browser.VIEWPORT)
    manager = ACCOUNTS["manager"]
    page.goto(f"{dashboards_url}/sla{MARCH_QUERY}&team=Network")
    page.get_by_role("textbox", name="Email").fill(manager.email)
    page.get_by_role("textbox", name="Password").fill(manager.password)
    page.get_by_role("button", name="Sign in").click()
    browser.wait_until_rendered(page, "SLA")
    assert "/sla" in page.url and "team=Network" in page.url
    assert errors_on(page) == []
    page.close()


def test_an_agent_is_refused_in_the_browser(dashboards_url: str, chromium):
    page = chromium.new_page(viewport=browser.VIEWPORT)
    agent = ACCOUNTS["agent"]
    page.goto(dashboards_url)
    page.get_by_role("textbox", name="Email").fill(agent.email)
    page.get_by_role("textbox", name="Password").fill(agent.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("for managers, auditors and admins").wait_for()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "refused.png"))
    page.close()
