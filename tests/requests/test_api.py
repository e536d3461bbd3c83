"""The request routes end to end: catalog administration with versions (ETag, 412), order forms
validated with a 422 naming each wrong field, requesters seeing only their own, approvals waiting
for their approver, tasks worked to delivery, and the one-time survey."""

from datetime import UTC, datetime, timedelta

from tests.conftest import assert_problem
from tests.requests.conftest import LAPTOP_FORM, stage

API = "/api/v1"


def _item_body(kit, **fields):
    return {
        "category_id": kit.category.id,
        "name": fields.pop("name", "Developer laptop"),
        "price": "1450.00",
        "fulfilment_team_id": kit.fulfillers.id,
        "delivery_minutes": 2400,
        "form_schema": LAPTOP_FORM,
        **fields,
    }


def _order(client, headers, item_id, answers, **extra):
    return client.post(
        f"{API}/requests",
        json={"items": [{"catalog_item_id": item_id, "answers": answers}], **extra},
        headers=headers,
    )


def test_admins_keep_every_version_and_a_stale_update_is_a_412(client, kit):
    admin = kit.factory.auth_headers(kit.admin)
    created = client.post(f"{API}/catalog/items", json=_item_body(kit), headers=admin)
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    item_id = created.json()["id"]
    changed = client.patch(
        f"{API}/catalog/items/{item_id}",
        json={"price": "1399.00"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert changed.status_code == 200 and changed.headers["ETag"] == '"2"'
    stale = client.patch(
        f"{API}/catalog/items/{item_id}",
        json={"price": "1.00"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert_problem(stale, 412, "stale-version")
    versions = client.get(f"{API}/catalog/items/{item_id}/versions", headers=admin).json()
    assert [(v["version"], v["snapshot"]["price"]) for v in versions["items"]] == [
        (2, "1399.00"),
        (1, "1450.00"),
    ]


def test_an_invalid_form_schema_is_refused(client, kit):
    admin = kit.factory.auth_headers(kit.admin)
    body = _item_body(kit, form_schema={"type": "object", "properties": {"x": {"type": "nope"}}})
    assert_problem(
        client.post(f"{API}/catalog/items", json=body, headers=admin), 422, "invalid-form-schema"
    )


def test_an_order_is_validated_against_the_form_naming_each_wrong_field(client, kit):
    item = kit.item()
    requester = kit.factory.auth_headers(kit.requester)
    wrong = _order(
        client,
        requester,
        item.id,
        {"model": "gaming", "storage_gb": 64, "deliver_to": 987654321, "colour": "red"},
    )
    body = assert_problem(wrong, 422, "invalid-order-form")
    fields = {(error["field"], error["line"]) for error in body["errors"]}
    assert fields == {
        ("model", 1),
        ("storage_gb", 1),
        ("needed_by", 1),
        ("deliver_to", 1),
        ("(answers)", 1),  # the unknown "colour"
    }
    assert "needed_by" in body["detail"]
    ok = _order(
        client,
        requester,
        item.id,
        {"model": "standard", "needed_by": "2025-09-01", "deliver_to": kit.boss.id},
    )
    assert ok.status_code == 201, ok.text
    line = ok.json()["items"][0]
    assert line["item_version"] == item.version
    assert line["sla"]["state"] == "running"


def test_a_retired_item_keeps_its_orders_but_takes_no_new_ones(client, kit):
    item = kit.item()
    placed = kit.order(item)
    admin = kit.factory.auth_headers(kit.admin)
    retired = client.post(
        f"{API}/catalog/items/{item.id}/retire", headers={**admin, "If-Match": f'"{item.version}"'}
    )
    assert retired.status_code == 200 and retired.json()["retired_at"]
    refused = _order(
        client,
        kit.factory.auth_headers(kit.requester),
        item.id,
        {"model": "standard", "needed_by": "2025-09-01"},
    )
    assert_problem(refused, 422, "item-not-orderable")
    still = client.get(
        f"{API}/request-items/{placed.number}", headers=kit.factory.auth_headers(kit.requester)
    )
    assert still.status_code == 200 and still.json()["item_name"] == item.name


def test_the_orderable_filter_lists_only_what_the_caller_may_order(client, kit):
    for_anyone = kit.item()
    for_agents = kit.item(orderable_roles=["agent"])
    for_the_team = kit.item(orderable_team_ids=[kit.team(kit.requester).id])
    kit.session.refresh(kit.requester)  # its memberships, as the next request loads them
    retired = kit.item()
    admin = kit.factory.auth_headers(kit.admin)
    client.post(
        f"{API}/catalog/items/{retired.id}/retire",
        headers={**admin, "If-Match": f'"{retired.version}"'},
    )
    listed = client.get(
        f"{API}/catalog/items",
        params={"orderable": "true", "size": 100},
        headers=kit.factory.auth_headers(kit.requester),
    )
    assert listed.status_code == 200, listed.text
    ids = {item["id"] for item in listed.json()["items"]}
    assert {for_anyone.id, for_the_team.id} <= ids
    assert for_agents.id not in ids and retired.id not in ids


def test_requesters_see_only_their_own_requests(client, kit):
    mine = kit.order(kit.item())
    other = kit.person(manager=kit.boss)
    headers = kit.factory.auth_headers(other)
    assert_problem(client.get(f"{API}/requests/{mine.request.number}", headers=headers), 404)
    assert_problem(client.get(f"{API}/request-items/{mine.number}", headers=headers), 404)
    assert client.get(f"{API}/requests", headers=headers).json()["total"] == 0
    owner = kit.factory.auth_headers(kit.requester)
    listed = client.get(f"{API}/requests", params={"q": mine.number}, headers=owner).json()
    assert [r["number"] for r in listed["items"]] == [mine.request.number]
    agent = kit.factory.auth_headers(kit.agent)
    assert client.get(f"{API}/requests/{mine.request.id}", headers=agent).status_code == 200


def test_an_approver_sees_what_waits_for_them_and_decides(client, kit):
    item = kit.order(kit.item(approval_policy={"stages": [stage("Manager", "manager")]}))
    boss = kit.factory.auth_headers(kit.boss)
    pending = client.get(f"{API}/approvals", params={"mine": "pending"}, headers=boss).json()
    assert [(a["request_item_number"], a["stage_name"]) for a in pending["items"]] == [
        (item.number, "Manager")
    ]
    approval_id = pending["items"][0]["id"]
    # The requester may look at it but not decide it.
    requester = kit.factory.auth_headers(kit.requester)
    assert_problem(
        client.post(f"{API}/approvals/{approval_id}/approve", json={}, headers=requester),
        403,
        "self-approval",
    )
    assert_problem(client.post(f"{API}/approvals/{approval_id}/reject", json={}, headers=boss), 422)
    decided = client.post(
        f"{API}/approvals/{approval_id}/approve", json={"comment": "ok"}, headers=boss
    )
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    again = client.post(f"{API}/approvals/{approval_id}/approve", json={}, headers=boss)
    assert_problem(again, 409, "approval-decided")
    assert (
        client.get(f"{API}/approvals", params={"mine": "pending"}, headers=boss).json()["total"]
        == 0
    )


def test_a_delegate_sees_the_approvals_of_the_person_they_stand_in_for(client, kit):
    deputy = kit.person()
    now = datetime.now(UTC)
    made = client.post(
        f"{API}/approval-delegations",
        json={
            "delegate_id": deputy.id,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
        headers=kit.factory.auth_headers(kit.boss),
    )
    assert made.status_code == 201, made.text
    item = kit.order(kit.item(approval_policy={"stages": [stage("Manager", "manager")]}), now=now)
    deputy_headers = kit.factory.auth_headers(deputy)
    pending = client.get(
        f"{API}/approvals", params={"mine": "pending"}, headers=deputy_headers
    ).json()
    assert [a["request_item_number"] for a in pending["items"]] == [item.number]
    revoked = client.delete(
        f"{API}/approval-delegations/{made.json()['id']}",
        headers=kit.factory.auth_headers(kit.boss),
    )
    assert revoked.json()["revoked_at"]
    assert (
        client.get(f"{API}/approvals", params={"mine": "pending"}, headers=deputy_headers).json()[
            "total"
        ]
        == 0
    )


def test_tasks_are_worked_to_delivery_and_the_survey_is_answered_once(client, kit):
    item = kit.order(kit.item(), now=datetime.now(UTC))
    agent = kit.factory.auth_headers(kit.agent)
    tasks = client.get(
        f"{API}/request-tasks", params={"request_item_id": item.id}, headers=agent
    ).json()
    (task,) = tasks["items"]
    assert task["assignee"]["id"] == kit.agent.id
    illegal = client.patch(
        f"{API}/request-tasks/{task['number']}",
        json={"state": "pending"},
        headers={**agent, "If-Match": f'"{task["version"]}"'},
    )
    assert assert_problem(illegal, 409, "invalid-transition")["allowed"] == [
        "in_progress",
        "closed",
        "cancelled",
    ]
    closed = client.patch(
        f"{API}/request-tasks/{task['number']}",
        json={"state": "closed", "close_notes": "handed over"},
        headers={**agent, "If-Match": f'"{task["version"]}"'},
    )
    assert closed.status_code == 200, closed.text
    request = client.get(f"{API}/requests/{item.request.number}", headers=agent).json()
    assert request["state"] == "closed"
    assert request["items"][0]["state"] == "delivered"
    assert request["items"][0]["sla"]["state"] == "met"
    survey = client.get(
        f"{API}/requests/{item.request.number}/csat",
        headers=kit.factory.auth_headers(kit.requester),
    )
    assert survey.status_code == 200 and survey.json()["is_open"]
    from operational.requests import csat

    token = csat.open_survey(
        session=kit.session, request=kit.request_of(item), now=datetime.now(UTC)
    ).token
    answered = client.post(f"{API}/request-surveys/{token}", json={"rating": 5, "comment": "quick"})
    assert answered.status_code == 200 and answered.json()["rating"] == 5
    assert_problem(
        client.post(f"{API}/request-surveys/{token}", json={"rating": 1}), 409, "survey-answered"
    )


def test_lists_are_sorted_filtered_and_paged(client, kit):
    laptop, phone = kit.item(name="Laptop X"), kit.item(name="Phone Y")
    for _ in range(3):
        kit.order(laptop)
    kit.order(phone)
    agent = kit.factory.auth_headers(kit.agent)
    page = client.get(
        f"{API}/request-items",
        params={"catalog_item_id": laptop.id, "size": 2, "sort": "number"},
        headers=agent,
    ).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert page["items"][0]["number"] < page["items"][1]["number"]
    found = client.get(f"{API}/request-items", params={"q": "phone"}, headers=agent).json()
    assert [i["item_name"] for i in found["items"]] == ["Phone Y"]
    assert_problem(client.get(f"{API}/requests", params={"sort": "colour"}, headers=agent), 400)
    catalog = client.get(f"{API}/catalog/items", params={"q": "laptop"}, headers=agent).json()
    assert [i["name"] for i in catalog["items"]] == ["Laptop X"]


def test_the_requester_reads_the_question_that_holds_their_item_and_their_answer(client, kit):
    item = kit.order(kit.item(), now=datetime.now(UTC))
    agent = kit.factory.auth_headers(kit.agent)
    requester = kit.factory.auth_headers(kit.requester)
    held = client.patch(
        f"{API}/request-items/{item.number}",
        json={"state": "awaiting_requester", "reason": "Which keyboard layout?"},
        headers={**agent, "If-Match": f'"{item.version}"'},
    )
    assert held.status_code == 200, held.text
    replied = client.post(
        f"{API}/request-items/{item.number}/reply", json={"comment": "UK"}, headers=requester
    )
    assert replied.status_code == 200 and replied.json()["state"] == "in_fulfilment"

    messages = client.get(f"{API}/request-items/{item.number}/messages", headers=requester)
    assert messages.status_code == 200, messages.text
    # The resume that the reply caused ("the requester replied") is not a message.
    assert [(m["kind"], m["text"], m["author_id"]) for m in messages.json()] == [
        ("question", "Which keyboard layout?", kit.agent.id),
        ("reply", "UK", kit.requester.id),
    ]
    # The requester may not read the full timeline, and nobody else reads their messages.
    assert_problem(
        client.get(f"{API}/request-items/{item.number}/timeline", headers=requester), 403
    )
    stranger = kit.factory.auth_headers(kit.person(manager=kit.boss))
    assert_problem(client.get(f"{API}/request-items/{item.number}/messages", headers=stranger), 404)
