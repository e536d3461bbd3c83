"""Changes and the CMDB in the browser: a CAB member approves a change from their pending list;
the calendar shows a blackout; a CI page shows its relationships and impact."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.ui.pages import check_screen, sign_in

pytestmark = pytest.mark.slow


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def _move(api, change_id: int, to: str) -> dict:
    """A transition with the version just read. The API may answer a write before its commit is
    visible to the next request (another worker process), so a 412 is read again and retried."""
    for _ in range(20):
        current = _ok(api.get(f"/changes/{change_id}"))
        moved = api.post(
            f"/changes/{change_id}/transition",
            json={"to": to},
            headers={"If-Match": f'"{current["version"]}"'},
        )
        if moved.status_code != 412:
            return _ok(moved)
    raise AssertionError(moved.text)


@pytest.fixture(scope="module")
def estate(stack) -> dict:
    """Two related CIs, a blackout window next week, and a normal change waiting for the CAB."""
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=2)
    with stack.api("agent") as api:
        classes = _ok(api.get("/ci-classes"))
        ci_class = classes[0]["name"]
        database = _ok(
            api.post(
                "/cis",
                json={"name": "orders-db", "ci_class": ci_class, "environment": "production"},
            ),
            201,
        )
        app = _ok(
            api.post(
                "/cis",
                json={"name": "orders-app", "ci_class": ci_class, "environment": "production"},
            ),
            201,
        )
        _ok(
            api.post(
                "/ci-relationships",
                json={
                    "source_ci_id": app["id"],
                    "type": "depends_on",
                    "target_ci_id": database["id"],
                },
            ),
            201,
        )
        change = _ok(
            api.post(
                "/changes",
                json={
                    "change_type": "normal",
                    "title": "Upgrade orders-db to PostgreSQL 18",
                    "description": "Minor outage.",
                    "justification": "Security fixes.",
                    "implementation_plan": "pg_upgrade",
                    "backout_plan": "restore the snapshot",
                    "test_plan": "smoke tests",
                    "ci_ids": [database["id"]],
                    "planned_start": (start + timedelta(hours=20)).isoformat(),
                    "planned_end": (start + timedelta(hours=22)).isoformat(),
                },
            ),
            201,
        )
        for to in ("assess", "authorize"):
            change = _move(api, change["id"], to)
    with stack.api("admin") as api:
        _ok(
            api.post(
                "/blackout-windows",
                json={
                    "name": "Quarter-end freeze",
                    "starts_at": (start + timedelta(days=1)).isoformat(),
                    "ends_at": (start + timedelta(days=2)).isoformat(),
                },
            ),
            201,
        )
    return {"change": change, "database": database, "app": app}


def test_a_cab_member_approves_a_change_from_their_list(stack, page, estate):
    change = estate["change"]
    assert change["state"] == "authorize"
    sign_in(page, stack.base_url, "cab")
    page.get_by_role("heading", name="Waiting for my decision").wait_for()
    page.get_by_role("link", name=change["number"]).wait_for()
    check_screen(page, "cab-pending")
    page.get_by_role("link", name=change["number"]).click()
    page.get_by_role("heading", name="Your decision").wait_for()
    check_screen(page, "change")
    page.get_by_label("Approve").check()
    page.get_by_label("Comment").fill("Backout plan is sound.")
    page.get_by_role("button", name="Record my decision").click()
    page.get_by_text("Your decision on").wait_for()
    with stack.api("cab") as api:
        stored = _ok(api.get(f"/changes/{change['id']}"))
    assert [(a["decision"], a["approver_id"]) for a in stored["approvals"]] == [
        ("approved", stack.user_ids["cab"])
    ]
    page.goto(f"{stack.base_url}/ui/changes/pending")
    assert page.get_by_role("link", name=change["number"]).count() == 0


def test_the_calendar_shows_blackouts_in_words(stack, page, estate):
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/changes")
    page.get_by_text("Blackout: Quarter-end freeze").first.wait_for()
    check_screen(page, "change-calendar")


def test_a_ci_page_shows_relationships_and_impact_both_ways(stack, page, estate):
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/cis?q=orders")
    page.get_by_role("link", name="orders-db").click()
    page.get_by_role("heading", name="orders-db").wait_for()
    impact = page.get_by_role("table").filter(has_text="Path")
    impact.get_by_role("link", name="orders-app").wait_for()  # orders-app relies on it
    check_screen(page, "ci")
    page.get_by_label("Direction").select_option("upstream")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Nothing upstream within 3 steps").wait_for()
