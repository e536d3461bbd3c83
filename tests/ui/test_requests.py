"""A service request's page in the browser: the requester sees its items, approvals and
delivery clock, sends a message and cancels it; an agent sees the same page with its
timeline."""

import pytest

from tests.ui.pages import check_screen, sign_in

pytestmark = pytest.mark.slow


def test_a_requester_sees_items_and_approvals_and_cancels(stack, page):
    with stack.api("admin") as api:
        category = api.post("/catalog/categories", json={"name": "Peripherals"})
        assert category.status_code == 201, category.text
        item = api.post(
            "/catalog/items",
            json={
                "category_id": category.json()["id"],
                "name": "Docking station",
                "delivery_minutes": 960,
                "approval_policy": {
                    "stages": [
                        {
                            "name": "Budget",
                            "approvers": "users",
                            "user_ids": [stack.user_ids["cab"]],
                        }
                    ]
                },
            },
        )
        assert item.status_code == 201, item.text
    with stack.api("requester") as api:
        ordered = api.post(
            "/requests",
            json={"items": [{"catalog_item_id": item.json()["id"], "quantity": 2}]},
        )
        assert ordered.status_code == 201, ordered.text
    order = ordered.json()
    sign_in(page, stack.base_url, "requester")
    page.goto(f"{stack.base_url}/ui/portal")
    page.get_by_role("link", name=order["number"]).click()
    page.get_by_role("heading", name="Docking station × 2", exact=False).wait_for()  # noqa: RUF001
    approvals = page.get_by_role("table").filter(has_text="Approver")
    approvals.get_by_role("cell", name="Cab").wait_for()
    approvals.get_by_role("cell", name="pending", exact=True).wait_for()
    assert page.get_by_role("heading", name="Timeline").count() == 0  # agents' view only
    check_screen(page, "request")

    page.get_by_label("Send a message about this item").fill("A USB-C one, please.")
    page.get_by_role("button", name="Send message").click()
    page.get_by_text("Your message is sent.").wait_for()

    page.get_by_text("Cancel this request").click()
    page.get_by_label("Why (required)").fill("Ordered the wrong model.")
    page.get_by_role("button", name="Cancel the request").click()
    page.get_by_text("The request is cancelled.").wait_for()
    page.locator("#request-state").filter(has_text="cancelled").wait_for()
    with stack.api("requester") as api:
        assert api.get(f"/requests/{order['id']}").json()["state"] == "cancelled"

    # An agent (request:read_all) sees the same page with the request's timeline.
    page.context.clear_cookies()
    sign_in(page, stack.base_url, "agent")
    page.goto(f"{stack.base_url}/ui/requests/{order['number']}")
    page.get_by_role("heading", name="Timeline").wait_for()
    page.locator(".timeline").get_by_text("Ordered the wrong model.", exact=False).first.wait_for()
    page.locator(".timeline").get_by_text("A USB-C one, please.", exact=False).wait_for()
