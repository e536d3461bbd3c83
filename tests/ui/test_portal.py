"""The self-service portal in the browser: a requester raises an incident, sees only their own,
follows it, answers the survey; the catalog and the knowledge base; and the URLs a requester
may not open."""

import pytest

from tests.ui.pages import check_screen, sign_in

pytestmark = pytest.mark.slow


def test_a_requester_raises_one_sees_only_their_own_and_answers_the_survey(stack, page):
    with stack.api("other_requester") as api:
        theirs = api.post("/incidents", json={"title": "Someone else's monitor flickers"}).json()
    sign_in(page, stack.base_url, "requester")
    page.get_by_role("heading", name="My tickets").wait_for()
    page.get_by_role("link", name="Report an issue").first.click()
    page.get_by_label("What is wrong?").fill("My laptop battery drains in an hour")
    page.get_by_label("Details").fill("Since Monday's update.")
    check_screen(page, "portal-new")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("is raised").wait_for()
    number = page.locator("h1").inner_text().split(":")[0]
    check_screen(page, "portal-ticket")
    page.get_by_label("Add a message").fill("It is also hot.")
    page.get_by_role("button", name="Send message").click()
    page.get_by_text("It is also hot.").wait_for()

    page.goto(f"{stack.base_url}/ui/portal")
    page.get_by_role("link", name=number).wait_for()
    assert page.get_by_role("link", name=theirs["number"]).count() == 0
    check_screen(page, "portal-my-tickets")

    # An agent resolves it; the requester answers the survey on the ticket's page.
    with stack.api("agent") as api:
        incident = api.get(f"/incidents/{number}").json()
        resolved = api.patch(
            f"/incidents/{incident['id']}",
            json={
                "state": "resolved",
                "assignee_id": stack.user_ids["agent"],
                "resolution_code": "solved_permanently",
                "resolution_notes": "New battery.",
            },
            headers={"If-Match": f'"{incident["version"]}"'},
        )
        assert resolved.status_code == 200, resolved.text
    page.goto(f"{stack.base_url}/ui/incidents/{number}")
    page.get_by_role("heading", name="How did we do?").wait_for()
    check_screen(page, "portal-survey")
    page.get_by_label("4 stars").check()
    page.get_by_label("Anything to add?").fill("Quick, thanks.")
    page.get_by_role("button", name="Send my answer").click()
    page.get_by_text("You rated this 4 out of 5").wait_for()
    with stack.api("agent") as api:
        survey = api.get(f"/incidents/{incident['id']}/csat").json()
    assert survey["rating"] == 4 and survey["answered_via"] == "requester"


def test_a_requester_cannot_open_an_agents_screen_or_anothers_ticket(stack, page):
    with stack.api("other_requester") as api:
        theirs = api.post("/incidents", json={"title": "Private: salary slip missing"}).json()
    sign_in(page, stack.base_url, "requester")
    for path in ("/ui/queue", "/ui/queue?scope=team", "/ui/incidents/new"):
        response = page.goto(f"{stack.base_url}{path}")
        assert response.status == 403, path
    check_screen(page, "refused")
    response = page.goto(f"{stack.base_url}/ui/incidents/{theirs['number']}")
    assert response.status in (403, 404)
    assert "salary" not in page.content()
    # Nor can a signed-out browser open anything but the sign-in page.
    page.context.clear_cookies()
    page.goto(f"{stack.base_url}/ui/incidents/{theirs['number']}")
    assert "/ui/login" in page.url


def test_knowledge_search_and_suggestions_while_typing(stack, page):
    with stack.api("agent") as api:
        article = api.post(
            "/knowledge/articles",
            json={
                "title": "Reset a forgotten VPN password",
                "body": "Open the portal and ...",
                "audience": "everyone",
            },
        )
        assert article.status_code == 201, article.text
        article_id = article.json()["id"]
        version = article.json()["version"]
        submitted = api.post(
            f"/knowledge/articles/{article_id}/submit",
            json={},
            headers={"If-Match": f'"{version}"'},
        )
        assert submitted.status_code == 200, submitted.text
    with stack.api("cab") as api:  # a manager reviews and publishes
        current = api.get(f"/knowledge/articles/{article_id}").json()
        published = api.post(
            f"/knowledge/articles/{article_id}/review",
            json={"decision": "approved"},
            headers={"If-Match": f'"{current["version"]}"'},
        )
        assert published.status_code == 200, published.text
    sign_in(page, stack.base_url, "requester")
    page.goto(f"{stack.base_url}/ui/portal/new")
    page.get_by_label("What is wrong?").press_sequentially("forgot my VPN password")
    page.locator("#suggestions").get_by_role(
        "link", name="Reset a forgotten VPN password", exact=False
    ).wait_for()
    page.goto(f"{stack.base_url}/ui/knowledge?q=vpn+password")
    page.get_by_role("link", name="Reset a forgotten VPN password", exact=False).click()
    page.get_by_role("heading", name="Reset a forgotten VPN password", exact=False).wait_for()
    check_screen(page, "knowledge-article")


def test_a_requester_orders_from_the_catalog_with_the_items_form(stack, page):
    with stack.api("admin") as api:
        category = api.post("/catalog/categories", json={"name": "Hardware"})
        assert category.status_code == 201, category.text
        item = api.post(
            "/catalog/items",
            json={
                "category_id": category.json()["id"],
                "name": "Laptop",
                "description": "A standard laptop.",
                "delivery_minutes": 2400,
                "form_schema": {
                    "type": "object",
                    "properties": {
                        "model": {
                            "type": "string",
                            "enum": ["13 inch", "15 inch"],
                            "title": "Model",
                        },
                        "reason": {"type": "string", "title": "Reason", "minLength": 5},
                    },
                    "required": ["model", "reason"],
                },
            },
        )
        assert item.status_code == 201, item.text
    sign_in(page, stack.base_url, "requester")
    page.goto(f"{stack.base_url}/ui/catalog")
    page.get_by_role("link", name="Laptop").click()
    page.get_by_label("Model").select_option("15 inch")
    page.get_by_label("Reason").fill("old")  # shorter than the form allows
    page.get_by_role("button", name="Order").click()
    page.locator("#answer_reason-error").wait_for()
    check_screen(page, "catalog-order")
    page.get_by_label("Reason").fill("My laptop is five years old")
    page.get_by_role("button", name="Order").click()
    page.get_by_text("Ordered:").wait_for()
    page.get_by_text("Laptop \u00d7 1").wait_for()  # "Laptop × 1"  # noqa: RUF003
