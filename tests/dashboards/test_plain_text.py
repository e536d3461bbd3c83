"""What users wrote reaches readers as they wrote it (issue 12): the dashboards render it as text,
not Markdown, and the downloads (the compliance export's CSV and XLSX, the dashboards' CSVs)
hold text that would start a spreadsheet formula as text."""

import html
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from dashboards.plain import plain
from operational.exports import service as exports
from tests.dashboards.conftest import ACCOUNTS, MARCH, PLANTED_NAME, PLANTED_TITLE, Stack
from tests.dashboards.test_pages import open_app, sign_in
from tests.spreadsheets import csv_rows, xlsx_cells

pytestmark = pytest.mark.slow
MARKDOWN = MarkdownIt("commonmark")
HOSTILE = "[Sign in again](http://attacker.example) **now** :red[alert] $x^2$ <b>b</b> # h `c`"


def rendered(source: str) -> str:
    return MARKDOWN.render(source)


def text_of(source: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered(source))).strip()


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60))
def test_plain_text_renders_to_itself(value):
    assert text_of(plain(value)) == " ".join(value.split())
    assert "<a" not in rendered(plain(value)) and "<strong>" not in rendered(plain(value))


def test_markdown_in_a_display_name_is_shown_as_written(dashboard_settings: Stack):
    email = ACCOUNTS["manager"].email
    [before] = dashboard_settings.rows(
        "select display_name from operational.users where email = %s", email
    )
    dashboard_settings.execute(
        "update operational.users set display_name = %s where email = %s", HOSTILE, email
    )
    try:
        app = sign_in(open_app(), "manager")
        [caption] = [item.value for item in app.sidebar.caption if "Signed in as" in item.value]
    finally:
        dashboard_settings.execute(
            "update operational.users set display_name = %s where email = %s",
            before["display_name"],
            email,
        )
    assert text_of(caption) == f"Signed in as {HOSTILE} (manager)"
    page = rendered(caption)
    assert "<a " not in page and page.count("<strong>") == 1  # the name's own bold, nothing more


def test_a_link_cannot_put_markdown_into_a_notice(dashboard_settings: Stack):
    app = signed_in_with_team(HOSTILE)
    notices = [item.value for item in app.sidebar.caption if "No team named" in item.value]
    assert notices
    assert "<a " not in rendered(notices[0])
    assert f"No team named {HOSTILE!r}" in text_of(notices[0])


def signed_in_with_team(team: str):
    app = sign_in(open_app({**MARCH, "team": team}), "manager")
    assert not app.exception
    return app


def test_the_downloads_hold_formulas_as_text(dashboard_settings: Stack):
    from dashboards import queries
    from dashboards.filters import Filters

    march = Filters(
        start=pd.Timestamp("2026-03-01").date(),
        end=pd.Timestamp("2026-03-31").date(),
        grain="month",
    )
    # The dashboards' CSVs: the breach register and a drill-down list.
    register = csv_rows(queries.breach_register_csv(march))
    assert [row["title"] for row in register if row["incident_number"] == "INC-C"] == [
        "'" + PLANTED_TITLE
    ]
    drilled = csv_rows(queries.drill_csv(queries.drill("resolved", march)))
    assert "'" + PLANTED_TITLE in [row["title"] for row in drilled]
    assert all(not row["hours_to_resolve"].startswith("'") for row in drilled)  # numbers stay

    # The compliance export of March: CSV and workbook.
    [export] = dashboard_settings.rows(
        "select folder from operational.exports where id = %s", dashboard_settings.export_id
    )
    folder = exports.exports_dir(dashboard_settings_settings(dashboard_settings)) / export["folder"]
    breaches = csv_rows((folder / "sla_breach_register.csv").read_bytes())
    assert [row["title"] for row in breaches if row["incident_number"] == "INC-C"] == [
        "'" + PLANTED_TITLE
    ]
    reviewed = csv_rows((folder / "access_review.csv").read_bytes())
    assert "'" + PLANTED_NAME in [row["display_name"] for row in reviewed]
    sheets = xlsx_cells(folder / exports.WORKBOOK_NAME)
    cells = [cell for sheet in sheets.values() for row in sheet for cell in row]
    assert not [cell for cell in cells if cell[0] == "formula"]
    assert ("text", "'" + PLANTED_TITLE) in cells
    assert ("text", "'" + PLANTED_NAME) in cells
    assert not [
        cell for cell in cells if cell[0] == "text" and cell[1] in (PLANTED_TITLE, PLANTED_NAME)
    ]


def dashboard_settings_settings(stack: Stack):
    from operational.core.config import Settings

    return Settings(home=stack.home, database_url=stack.url)
