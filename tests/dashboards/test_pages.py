"""Every page under Streamlit's AppTest, against the real marts of the hand-made history
(tests/dbt/history.py), signed in through the real API.

The figures expected below are the hand-computed ones of tests/dbt/test_marts.py, as a manager
would read them on the page (hours to one decimal, shares in percent).
"""

import html
import re
from datetime import timedelta

import httpx
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests.dashboards.conftest import ACCOUNTS, APP, MARCH, Stack

pytestmark = pytest.mark.slow

PAGES = [
    "app_pages/overview.py",
    "app_pages/sla.py",
    "app_pages/response_resolution.py",
    "app_pages/fcr_csat.py",
    "app_pages/backlog.py",
    "app_pages/teams.py",
    "app_pages/changes.py",
    "app_pages/requests.py",
    "app_pages/problems_knowledge.py",
    "app_pages/custom_fields.py",
    "app_pages/compliance.py",
]


def open_app(params: dict[str, str] | None = None) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.query_params.update(params if params is not None else MARCH)
    return app.run()


def sign_in(app: AppTest, role: str, *, code: str | None = None, password: str | None = None):
    account = ACCOUNTS[role]
    app.text_input(key="sign_in_email").input(account.email)
    app.text_input(key="sign_in_password").input(password or account.password)
    if code is not None:
        app.text_input(key="sign_in_code").input(code)
    app.button(key="sign_in_submit").click()
    return app.run()


def fresh_code(stack: Stack, role: str) -> str:
    """A current TOTP code; the API refuses a code twice, so forget the last one used first."""
    stack.execute(
        "update operational.users set mfa_last_used_step = null where email = %s",
        ACCOUNTS[role].email,
    )
    return ACCOUNTS[role].totp()


def signed_in(
    role: str = "manager", params: dict[str, str] | None = None, *, stack: Stack | None = None
) -> AppTest:
    code = fresh_code(stack, role) if stack is not None and ACCOUNTS[role].totp_secret else None
    app = sign_in(open_app(params), role, code=code)
    assert not app.exception, [item.value for item in app.exception]
    assert "signed_in" in app.session_state
    return app


def shown(markdown: str) -> str:
    """What a reader sees of Markdown source (CommonMark, as Streamlit renders it): its text."""
    return html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").render(markdown))).strip()


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def problems(app: AppTest) -> list[str]:
    """Exceptions and error boxes on the page: a page with either has failed the reader."""
    return [str(item.value) for item in app.exception] + [str(item.value) for item in app.error]


def ticket_numbers(app: AppTest, index: int = -1) -> set[str]:
    frame: pd.DataFrame = app.dataframe[index].value
    return set(frame["record_number"])


# --- every page -------------------------------------------------------------------------------


@pytest.mark.parametrize("grain", ["day", "week", "month"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_marts_without_an_error(
    dashboard_settings: Stack, page: str, grain: str
):
    app = signed_in(params={"from": "2026-02-15", "to": "2026-03-31", "grain": grain})
    app.switch_page(page).run()
    assert problems(app) == []
    # Every page says how fresh the marts are.
    assert any("Marts built" in caption.value for caption in app.caption)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_no_data_for_a_range_without_data(dashboard_settings: Stack, page: str):
    app = signed_in(params={"from": "2025-01-01", "to": "2025-01-31", "grain": "week"})
    app.switch_page(page).run()
    assert problems(app) == []


# --- numbers --------------------------------------------------------------------------------


def test_overview_shows_the_marts_figures_of_march(dashboard_settings: Stack):
    shown = metrics(signed_in())
    assert shown["SLA compliance · resolution"] == "50.0%"  # INC-B met, INC-C breached
    assert shown["SLA compliance · response"] == "100.0%"
    assert shown["MTTA"] == "0.4 h"  # 26.25 minutes
    assert shown["MTTR · mean"] == "34.3 h"  # 2060 minutes
    assert shown["MTTR · median"] == "32.0 h"  # 1920 minutes
    assert shown["MTTR · 90th percentile"] == "60.8 h"  # 3648 minutes
    assert shown["First-contact resolution"] == "33.3%"
    assert shown["CSAT"] == "66.7%"  # ratings 5, 4 and 2
    assert shown["Backlog"] == "1"  # INC-E, open on 12 March
    assert shown["Change success rate"] == "50.0%"
    # tests/dbt/request_history.py: 1,620, 1,440 and 240 minutes; two of three on time.
    assert shown["Request fulfilment · mean"] == "18.3 h"
    assert shown["Request delivery compliance"] == "66.7%"


def test_overview_figures_are_the_mart_rows(dashboard_settings: Stack):
    """Read straight from the mart, not from the hand-computed constants: nothing on the page
    is recomputed from other numbers."""
    row = dashboard_settings.rows(
        "select mttr_minutes, mttr_p90_minutes from marts.mttr_per_period "
        "where period_grain = 'month' and period_start = '2026-03-01' and slice_by = 'all'"
    )[0]
    shown = metrics(signed_in())
    assert shown["MTTR · mean"] == f"{float(row['mttr_minutes']) / 60:,.1f} h"
    assert shown["MTTR · 90th percentile"] == f"{float(row['mttr_p90_minutes']) / 60:,.1f} h"


def test_overview_compares_with_the_period_before_and_draws_the_trend(
    dashboard_settings: Stack,
):
    """By day: the last day of the range with a day before it that also resolved incidents."""
    days = dashboard_settings.rows(
        "select period_start, mttr_minutes from marts.mttr_per_period "
        "where period_grain = 'day' and slice_by = 'all' order by period_start"
    )
    mttr = {row["period_start"]: float(row["mttr_minutes"]) for row in days}
    last = max(day for day in mttr if day - timedelta(days=1) in mttr)
    previous = mttr[last - timedelta(days=1)]
    app = signed_in(params={"from": "2026-03-01", "to": last.isoformat(), "grain": "day"})
    card = next(metric for metric in app.metric if metric.label == "MTTR · mean")
    assert card.value == f"{mttr[last] / 60:,.1f} h"
    assert card.proto.delta == f"{(mttr[last] - previous) / 60:+,.1f} h"
    # The sparkline: the mart's days of the range up to that day, in hours.
    in_range = sorted(day for day in mttr if day <= last)
    assert len(in_range) > 1
    assert list(card.proto.chart_data) == pytest.approx([mttr[day] / 60 for day in in_range])


def test_a_team_filter_changes_the_numbers_and_the_link(dashboard_settings: Stack):
    app = signed_in()
    app.selectbox(key="filter_team").select("Network").run()
    shown = metrics(app)
    assert shown["MTTR · mean"] == "50.0 h"  # INC-B 4080 and INC-C 1920 minutes
    assert shown["SLA compliance · resolution"] == "50.0%"
    assert shown["First-contact resolution"] == "50.0%"  # INC-C yes, INC-B (reassigned) no
    assert app.query_params["team"] == ["Network"] or app.query_params["team"] == "Network"


def test_filters_come_from_a_shared_link(dashboard_settings: Stack):
    app = signed_in(params={**MARCH, "team": "Service Desk"})
    assert app.selectbox(key="filter_team").value == "Service Desk"
    assert metrics(app)["MTTR · mean"] == "3.0 h"  # INC-A only: 180 minutes


def test_an_unknown_filter_value_in_a_link_is_dropped_with_a_notice(dashboard_settings: Stack):
    app = signed_in(params={**MARCH, "team": "Nobody", "grain": "fortnight"})
    assert problems(app) == []
    assert app.selectbox(key="filter_team").value == "All"
    notices = " ".join(shown(caption.value) for caption in app.sidebar.caption)
    assert "No team named 'Nobody'" in notices
    assert "Unknown period grain 'fortnight'" in notices


def test_the_filters_carry_across_pages(dashboard_settings: Stack):
    app = signed_in()
    app.selectbox(key="filter_team").select("Network").run()
    app.switch_page("app_pages/teams.py").run()
    assert app.selectbox(key="filter_team").value == "Network"
    teams = app.dataframe[0].value
    assert list(teams["team_name"]) == ["Network"]
    assert round(float(teams["mttr_hours"].iloc[0]), 1) == 50.0


# --- drill-down -------------------------------------------------------------------------------


def test_a_kpi_lists_the_tickets_behind_it_with_links_to_the_api(dashboard_settings: Stack):
    app = signed_in()
    app.button(key="overview_kpi_mttr").click().run()
    assert ticket_numbers(app) == {"INC-A", "INC-B", "INC-C"}  # INC-D was cancelled
    frame = app.dataframe[-1].value
    ids = {
        row["incident_number"]: row["incident_id"]
        for row in dashboard_settings.rows(
            "select incident_number, incident_id from marts.fct_incidents"
        )
    }
    for number, link in zip(frame["record_number"], frame["api_url"], strict=True):
        assert link == f"{dashboard_settings.api_base_url}/api/v1/incidents/{ids[number]}"
    assert [button.label for button in app.download_button] == ["Download CSV"]


def test_the_tickets_follow_the_filters(dashboard_settings: Stack):
    app = signed_in(params={**MARCH, "team": "Network"})
    app.button(key="overview_kpi_mttr").click().run()
    assert ticket_numbers(app) == {"INC-B", "INC-C"}


def test_breached_tickets_are_two_clicks_away(dashboard_settings: Stack):
    app = signed_in()
    app.switch_page("app_pages/sla.py").run()
    app.selectbox(key="sla_explore_metric").select("Resolution timers breached").run()
    app.toggle(key="sla_explore_show").set_value(True).run()
    assert ticket_numbers(app) == {"INC-C"}


def test_the_csv_holds_every_row_behind_a_number(dashboard_settings: Stack):
    from dashboards import queries
    from dashboards.filters import Filters

    march = Filters(
        start=pd.Timestamp("2026-03-01").date(),
        end=pd.Timestamp("2026-03-31").date(),
        grain="month",
    )
    lines = queries.drill_csv(queries.drill("resolved", march)).decode().splitlines()
    assert lines[0].startswith("record_id,record_number,")
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["INC-A", "INC-B", "INC-C"]


def test_the_sla_page_lists_the_breach_register(dashboard_settings: Stack):
    app = signed_in()
    app.switch_page("app_pages/sla.py").run()
    registers = [
        frame.value for frame in app.dataframe if "business_hours_over_target" in frame.value
    ]
    assert len(registers) == 1
    register = registers[0]
    assert list(register["incident_number"]) == ["INC-C"]
    assert float(register["business_hours_over_target"].iloc[0]) == 11.0  # 660 minutes


def test_mttr_and_fcr_say_how_many_resolved_incidents_they_cover(dashboard_settings: Stack):
    row = dashboard_settings.rows(
        "select resolved_count, mttr_covered_count, mttr_left_out_count from marts.mttr_per_period"
        " where period_grain = 'month' and period_start = '2026-03-01' and slice_by = 'all'"
    )[0]
    assert row["mttr_covered_count"] + row["mttr_left_out_count"] == row["resolved_count"]
    app = signed_in()
    captions = [caption.value for caption in app.caption]
    covered = f"over {row['mttr_covered_count']:,} of {row['resolved_count']:,} resolved"
    # The three MTTR cards and the FCR card (native incidents: none left out).
    assert sum(caption.startswith(covered) for caption in captions) == 4


def test_the_compliance_page_shows_the_access_review_and_the_exports(dashboard_settings: Stack):
    app = signed_in("auditor", stack=dashboard_settings)
    app.switch_page("app_pages/compliance.py").run()
    assert problems(app) == []
    warnings = [shown(warning.value) for warning in app.warning]
    # The history's admin, and this suite's manager and admin (only the auditor enrolled MFA).
    expected = "adam@example.com, admin@dashboards.test, manager@dashboards.test"
    assert f"3 privileged account(s) without MFA: {expected}" in warnings
    flagged = dashboard_settings.rows(
        "select email from personal.access_review where is_privileged_without_mfa order by email"
    )
    assert ", ".join(row["email"] for row in flagged) == expected
    expanders = [expander.label for expander in app.expander]
    assert any(label.startswith("2026-03-01 to 2026-03-31 · version 1") for label in expanders)


def test_a_sign_out_elsewhere_does_not_end_the_dashboards_session(dashboard_settings: Stack):
    app = signed_in("admin")
    account = ACCOUNTS["admin"]
    api = dashboard_settings.api_base_url + "/api/v1/auth"
    other = httpx.post(f"{api}/login", json={"email": account.email, "password": account.password})
    # Signing out there ends every access token of the account, the dashboards' one too ...
    out = httpx.post(
        f"{api}/logout",
        json={"refresh_token": other.json()["refresh_token"]},
        headers={"Authorization": f"Bearer {other.json()['access_token']}"},
    )
    assert out.status_code == 204
    stale = app.session_state["signed_in"].access_token
    assert httpx.get(f"{api}/me", headers={"Authorization": f"Bearer {stale}"}).status_code == 401

    app.switch_page("app_pages/compliance.py").run()

    # ... and the dashboards carry on with their own login's refresh token.
    assert problems(app) == []
    assert not [warning for warning in app.warning if "could not be listed" in warning.value]
    assert [expander for expander in app.expander if "version" in expander.label]
    assert app.session_state["signed_in"].access_token != stale


def test_a_manager_does_not_see_the_exports_nor_the_access_review(dashboard_settings: Stack):
    app = signed_in("manager")
    app.switch_page("app_pages/compliance.py").run()
    assert problems(app) == []
    assert any("access review (personal data) is for auditors" in info.value for info in app.info)
    assert any("exports are for auditors and admins" in info.value for info in app.info)
    assert not [expander for expander in app.expander if "version" in expander.label]
    assert not [warning for warning in app.warning if "without MFA" in warning.value]


# --- sign-in ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "analyst", "requester"])
def test_other_roles_are_refused(dashboard_settings: Stack, role: str):
    app = sign_in(open_app(), role)
    assert "signed_in" not in app.session_state
    assert any("for managers, auditors and admins" in shown(error.value) for error in app.error)
    assert not app.metric and not app.sidebar.selectbox  # no page, no filters
    # The refused login leaves no live session behind in the platform.
    live = dashboard_settings.rows(
        "select count(*) as n from operational.refresh_tokens t "
        "join operational.users u on u.id = t.user_id "
        "where u.email = %s and t.revoked_at is null and t.used_at is null",
        ACCOUNTS[role].email,
    )
    assert live[0]["n"] == 0


def test_a_wrong_password_is_refused(dashboard_settings: Stack):
    app = sign_in(open_app(), "manager", password="not-the-password-at-all")
    assert "signed_in" not in app.session_state
    assert app.error and not app.metric


def test_mfa_asks_for_the_code_and_accepts_the_right_one(dashboard_settings: Stack):
    app = sign_in(open_app(), "auditor")
    assert "signed_in" not in app.session_state
    assert any("authenticator app" in error.value for error in app.error)
    app = sign_in(open_app(), "auditor", code="000000")
    assert "signed_in" not in app.session_state
    app = sign_in(open_app(), "auditor", code=fresh_code(dashboard_settings, "auditor"))
    assert "signed_in" in app.session_state
    assert problems(app) == []


def test_admins_get_in(dashboard_settings: Stack):
    app = signed_in("admin")
    assert metrics(app)["MTTR · mean"] == "34.3 h"


def test_signing_out_returns_to_the_sign_in_form(dashboard_settings: Stack):
    app = signed_in()
    app.button(key="sign_out").click().run()
    assert "signed_in" not in app.session_state
    assert app.text_input(key="sign_in_email")


def test_the_marts_are_read_as_the_read_only_analyst_role(dashboard_settings: Stack):
    from dashboards import queries

    assert queries.read("select current_user as who")["who"].iloc[0] == "itsm_analyst"
    for personal_or_operational in ("personal.access_review", "operational.incidents"):
        with pytest.raises(queries.MartsUnavailable):
            queries.read(f"select count(*) from {personal_or_operational}")


def test_the_backlog_kpi_lists_the_incidents_open_at_the_end_of_the_period(
    dashboard_settings: Stack,
):
    app = signed_in()
    app.button(key="overview_kpi_backlog").click().run()
    # The marts were built as of 12 March: INC-E (opened on the 10th) is still open.
    assert ticket_numbers(app) == {"INC-E"}
    assert "at the end of 12 Mar 2026" in " ".join(item.value for item in app.markdown)


def test_the_csat_kpi_lists_the_survey_answers_behind_it(dashboard_settings: Stack):
    app = signed_in()
    app.button(key="overview_kpi_csat").click().run()
    answers = app.dataframe[-1].value
    expected = dashboard_settings.rows(
        "select incident_number, rating from marts.fct_csat_answers "
        "where answered_date between '2026-03-01' and '2026-03-31' order by answered_at desc"
    )
    assert len(expected) == 3  # ratings 5, 4 and 2
    assert list(zip(answers["record_number"], answers["rating"], strict=True)) == [
        (row["incident_number"], row["rating"]) for row in expected
    ]


def test_team_performance_lists_each_agent_from_the_mart(dashboard_settings: Stack):
    app = signed_in()
    app.switch_page("app_pages/teams.py").run()
    agents = next(frame.value for frame in app.dataframe if "agent_name" in frame.value.columns)
    expected = dashboard_settings.rows(
        "select agent_name, resolved_count from marts.performance_per_agent "
        "where period_grain = 'month' and period_start = '2026-03-01' "
        "order by resolved_count desc, agent_name"
    )
    assert [(row["agent_name"], row["resolved_count"]) for row in expected] == [
        ("Bob", 2),
        ("Alice", 1),
    ]
    assert list(zip(agents["agent_name"], agents["resolved_count"], strict=True)) == [
        ("Bob", 2),
        ("Alice", 1),
    ]


def test_requests_shows_fulfilment_compliance_and_rejections_and_lists_the_late_items(
    dashboard_settings: Stack,
):
    """The figures of tests/dbt/test_request_marts.py (March 2026)."""
    app = signed_in()
    app.switch_page("app_pages/requests.py").run()
    assert problems(app) == []
    shown = metrics(app)
    assert shown["Fulfilment · mean"] == "18.3 h"  # 1,100 minutes
    assert shown["Fulfilment · 90th percentile"] == "26.4 h"  # 1,584 minutes
    assert shown["Delivery compliance"] == "66.7%"
    assert shown["Approval rejection rate"] == "33.3%"
    app.button(key="requests_kpi_request_compliance").click().run()
    assert problems(app) == []
    late = [frame.value for frame in app.dataframe if "record_number" in frame.value.columns]
    assert [set(frame["catalog_item_name"]) for frame in late] == [{"Mouse"}]
