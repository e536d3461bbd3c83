"""The agent workspace in the browser: an incident from new to resolved, a stale edit, the
queue, and the create form's validation errors."""

import pytest

from tests.ui.pages import check_screen, sign_in

pytestmark = pytest.mark.slow


def _raise(stack, who: str = "agent", **fields) -> dict:
    with stack.api(who) as api:
        response = api.post(
            "/incidents",
            json={"title": "Printer on floor 3 jams", "impact": 2, "urgency": 2, **fields},
        )
        assert response.status_code == 201, response.text
        return response.json()


def test_an_agent_takes_an_incident_from_new_to_resolved(stack, page):
    incident = _raise(stack)  # no team, and no assignment rule: it stays new
    assert incident["state"] == "new"
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/incidents/{incident['number']}")
    page.get_by_role("heading", name=incident["number"], exact=False).wait_for()
    assert page.locator("#state-value").inner_text() == "new"
    check_screen(page, "incident")
    page.get_by_role("button", name="Assign to me").click()
    page.get_by_role("button", name="Start work").click()
    assert page.locator("#state-value").inner_text().startswith("in progress")
    page.get_by_label("Resolution code").select_option("solved_permanently")
    page.get_by_label("Resolution notes").fill("Replaced the fuser unit.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    page.locator("#state-value").filter(has_text="resolved").wait_for()
    with stack.api("agent") as api:
        stored = api.get(f"/incidents/{incident['id']}").json()
    assert stored["state"] == "resolved"
    assert stored["assignee_id"] == stack.user_ids["agent"]
    assert stored["resolution_notes"] == "Replaced the fuser unit."
    page.goto(f"{stack.base_url}/ui/queue?state=resolved")
    page.get_by_role("link", name=incident["number"]).wait_for()
    check_screen(page, "my-queue")


def test_the_team_queue_lists_the_teams_open_incidents(stack, page):
    incident = _raise(stack, title="Shared drive is read-only", assignment_group_id=stack.team_id)
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/queue?scope=team&sort=-opened_at")
    page.get_by_role("link", name=incident["number"]).wait_for()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=incident["number"]))
    assert "due in" in row.inner_text()  # the SLA clock, in words
    check_screen(page, "team-queue")


def test_a_stale_edit_says_so_and_keeps_what_was_typed(stack, page):
    incident = _raise(stack, title="VPN drops every hour")
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/incidents/{incident['number']}")
    page.get_by_text("Edit fields").click()
    page.get_by_label("Title").fill("VPN drops every hour for Rotterdam")
    # Meanwhile somebody else changes it.
    with stack.api("agent") as api:
        changed = api.patch(
            f"/incidents/{incident['id']}",
            json={"category": "Network"},
            headers={"If-Match": f'"{incident["version"]}"'},
        )
        assert changed.status_code == 200
    page.get_by_role("button", name="Save").click()
    page.locator("#stale").wait_for()
    assert "412" in page.locator("#stale").inner_text()
    assert page.get_by_label("Title").input_value() == "VPN drops every hour for Rotterdam"
    check_screen(page, "incident-stale-edit")
    # Saving again applies the text on top of the latest version.
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="VPN drops every hour for Rotterdam", exact=False).wait_for()
    with stack.api("agent") as api:
        stored = api.get(f"/incidents/{incident['id']}").json()
    assert stored["title"] == "VPN drops every hour for Rotterdam"
    assert stored["category"] == "Network"


def test_the_create_form_shows_the_apis_errors_beside_the_fields(stack, page):
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/incidents/new")
    # Longer than the API takes (300 and 120 characters); the browser does not know the limits.
    page.get_by_label("Title").fill("x" * 301)
    page.get_by_label("Category").fill("c" * 121)
    page.get_by_role("button", name="Raise incident").click()
    page.locator("#title-error").wait_for()
    assert "300" in page.locator("#title-error").inner_text()
    assert "120" in page.locator("#category-error").inner_text()
    assert page.get_by_label("Title").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Category").input_value() == "c" * 121  # kept as typed
    check_screen(page, "incident-new-errors")
    page.get_by_label("Title").fill("Laptop will not boot")
    page.get_by_label("Category").fill("Hardware")
    page.get_by_role("button", name="Raise incident").click()
    page.get_by_role("heading", name="Laptop will not boot", exact=False).wait_for()


def test_live_updates_reach_the_open_pages(stack, page):
    """The queue reloads its rows, and the incident page says it changed, when another person
    changes the incident (the API's event stream, relayed by the UI)."""
    incident = _raise(stack, title="Live: badge reader offline")
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/incidents/{incident['number']}")
    page.get_by_label("Add a comment").fill("typing, not sent")
    # The page's stream is open (ui.js marks the body).
    page.locator("body[data-live=connected]").wait_for(state="attached")
    with stack.api("admin") as api:
        changed = api.patch(
            f"/incidents/{incident['id']}",
            json={"category": "Facilities"},
            headers={"If-Match": f'"{incident["version"]}"'},
        )
        assert changed.status_code == 200, changed.text
    page.locator("#live-notice").wait_for(state="visible")
    assert page.get_by_label("Add a comment").input_value() == "typing, not sent"
    # The queue reloads its rows when a ticket comes to it.
    page.goto(f"{stack.base_url}/ui/queue")
    page.locator("body[data-live=connected]").wait_for(state="attached")
    arrived = _raise(
        stack,
        "admin",
        title="Live: assigned to you",
        assignment_group_id=stack.team_id,
        assignee_id=stack.user_ids["agent"],
    )
    page.get_by_role("link", name=arrived["number"]).wait_for()
