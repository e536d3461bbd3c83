"""The workflow of each change type, through the API: legal moves, refused moves, versions."""

from operational.events import service as events

from .conftest import COMPLETE_PLANS, MONDAY


def _move(client, headers, change, to, **extra):
    return client.post(
        f"/api/v1/changes/{change['id']}/transition",
        headers={**headers, "If-Match": f'"{change["version"]}"'},
        json={"to": to, **extra},
    )


def _moved(client, headers, change, *states):
    for state in states:
        response = _move(client, headers, change, state)
        assert response.status_code == 200, response.text
        change = response.json()
    return change


def _decide(client, headers, change, decision="approved", comment="Looks safe"):
    response = client.post(
        f"/api/v1/changes/{change['id']}/approvals",
        headers=headers,
        json={"decision": decision, "comment": comment},
    )
    return response


def _review(client, headers, change, **fields):
    fields.setdefault("outcome", "successful")
    fields.setdefault("caused_incidents", False)
    fields.setdefault("notes", "Went to plan")
    return client.post(
        f"/api/v1/changes/{change['id']}/review",
        headers={**headers, "If-Match": f'"{change["version"]}"'},
        json=fields,
    )


def test_normal_change_goes_through_the_cab_to_closure(changes, client, factory, session):
    ci = changes.ci("web")
    first, second = changes.manager(), changes.manager()
    agent = changes.agent()
    headers = factory.auth_headers(agent)

    created = client.post(
        "/api/v1/changes",
        headers=headers,
        json={
            "change_type": "normal",
            "title": "Patch web",
            "ci_ids": [ci.id],
            "planned_start": MONDAY.isoformat(),
            "planned_end": "2030-03-04T12:00:00Z",
            **COMPLETE_PLANS,
        },
    )
    assert created.status_code == 201, created.text
    change = created.json()
    assert change["number"].startswith("CHG") and len(change["number"]) == 10
    assert (change["state"], change["requester_id"], created.headers["ETag"]) == (
        "new",
        agent.id,
        '"1"',
    )
    assert change["allowed_transitions"] == ["assess", "cancelled"]

    skipped = _move(client, headers, change, "authorize")
    assert skipped.status_code == 409
    assert skipped.json()["type"] == "/problems/invalid-transition"
    assert skipped.json()["allowed"] == ["assess", "cancelled"]

    change = _moved(client, headers, change, "assess", "authorize")
    assert (change["cab_stage"], change["cab_outcome"]) == ("authorization", "pending")
    assert (change["cab_rule"], change["cab_quorum"]) == ("quorum", 2)
    premature = _move(client, headers, change, "scheduled")
    assert premature.status_code == 409
    assert premature.json()["allowed"] == ["assess", "cancelled"]
    assert premature.json()["cab_outcome"] == "pending"

    assert _decide(client, factory.auth_headers(first), change).status_code == 201
    decided = _decide(client, factory.auth_headers(second), change)
    change = decided.json()
    assert change["cab_outcome"] == "approved"
    assert change["allowed_transitions"] == ["scheduled", "assess", "cancelled"]

    change = _moved(client, headers, change, "scheduled", "implement", "review")
    assert change["actual_start"] and change["actual_end"]
    closed = _review(client, headers, change)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["review_outcome"]) == ("closed", "successful")
    assert closed.json()["closed_at"] is not None

    moves = [
        (event.old_value, event.new_value)
        for event in events.list_for(session=session, entity_type="change", entity_id=change["id"])
        if event.kind == "state_changed"
    ]
    assert moves == [
        ("new", "assess"),
        ("assess", "authorize"),
        ("authorize", "scheduled"),
        ("scheduled", "implement"),
        ("implement", "review"),
        ("review", "closed"),
    ]


def test_standard_change_comes_from_a_template_and_skips_the_cab(changes, client, factory):
    template = changes.template()
    ci = changes.ci("app-pool")
    headers = factory.auth_headers(changes.agent())
    created = client.post(
        "/api/v1/changes",
        headers=headers,
        json={
            "change_type": "standard",
            "template_id": template.id,
            "ci_ids": [ci.id],
            "planned_start": MONDAY.isoformat(),
            "planned_end": "2030-03-04T10:30:00Z",
        },
    )
    assert created.status_code == 201, created.text
    change = created.json()
    assert change["title"] == "Restart the application pool"
    assert change["implementation_plan"] == template.implementation_plan
    assert change["allowed_transitions"] == ["scheduled", "cancelled"]

    assert _move(client, headers, change, "assess").json()["allowed"] == [
        "scheduled",
        "cancelled",
    ]
    change = _moved(client, headers, change, "scheduled")
    assert change["cab_round"] == 0 and change["approvals"] == []
    no_cab = _decide(client, factory.auth_headers(changes.manager()), change)
    assert no_cab.status_code == 409
    assert no_cab.json()["type"] == "/problems/no-cab-round"
    change = _moved(client, headers, change, "implement", "review")
    assert _review(client, headers, change).json()["state"] == "closed"


def test_standard_changes_need_an_active_template_and_keep_its_plans(changes, client, factory):
    headers = factory.auth_headers(changes.agent())
    template = changes.template()
    base = {"change_type": "standard", "template_id": template.id}
    own_plan = client.post(
        "/api/v1/changes", headers=headers, json={**base, "backout_plan": "improvise"}
    )
    assert own_plan.status_code == 422
    assert own_plan.json()["fields"] == ["backout_plan"]
    no_template = client.post("/api/v1/changes", headers=headers, json={"change_type": "standard"})
    assert no_template.status_code == 422
    normal_with_template = client.post(
        "/api/v1/changes",
        headers=headers,
        json={"change_type": "normal", "title": "x", "template_id": template.id},
    )
    assert normal_with_template.status_code == 422
    retired = client.patch(
        f"/api/v1/change-templates/{template.id}",
        headers=factory.auth_headers(changes.manager()),
        json={"is_active": False},
    )
    assert retired.status_code == 200
    assert client.post("/api/v1/changes", headers=headers, json=base).status_code == 422


def test_emergency_change_uses_the_emergency_cab_and_a_retrospective(
    changes, client, factory, session
):
    ci = changes.ci("payments")
    manager, other_manager = changes.manager(), changes.manager()
    headers = factory.auth_headers(changes.agent())
    created = client.post(
        "/api/v1/changes",
        headers=headers,
        json={
            "change_type": "emergency",
            "title": "Hotfix payments",
            "ci_ids": [ci.id],
            "planned_start": MONDAY.isoformat(),
            "planned_end": "2030-03-04T11:00:00Z",
            "implementation_plan": "Deploy 4.2.1",
            "backout_plan": "Redeploy 4.2.0",
        },
    ).json()
    assert created["allowed_transitions"] == ["authorize", "cancelled"]
    change = _moved(client, headers, created, "authorize")
    # The emergency CAB: a quorum of one.
    assert (change["cab_rule"], change["cab_quorum"]) == ("quorum", 1)
    change = _decide(client, factory.auth_headers(manager), change).json()
    assert change["cab_outcome"] == "approved"

    change = _moved(client, headers, change, "scheduled", "implement", "review")
    assert (change["cab_stage"], change["cab_outcome"], change["cab_round"]) == (
        "retrospective",
        "pending",
        2,
    )
    early = _review(client, headers, change)
    assert early.status_code == 409
    assert early.json()["type"] == "/problems/retrospective-pending"

    change = _decide(
        client, factory.auth_headers(other_manager), change, comment="Justified: outage"
    ).json()
    assert change["cab_outcome"] == "approved"
    assert [(item["stage"], item["round"]) for item in change["approvals"]] == [
        ("authorization", 1),
        ("retrospective", 2),
    ]
    closed = _review(client, headers, change)
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"


def test_authorization_needs_complete_plans(changes, client, factory):
    ci = changes.ci()
    agent = changes.agent()
    change = changes.change(actor=agent, cis=[ci], test_plan=None, justification=None)
    change = changes.move(change, "assess")
    response = client.post(
        f"/api/v1/changes/{change.id}/transition",
        headers={**factory.auth_headers(agent), "If-Match": f'"{change.version}"'},
        json={"to": "authorize"},
    )
    assert response.status_code == 409
    assert response.json()["missing"] == ["test_plan", "justification"]


def test_plans_freeze_once_authorization_starts_but_people_can_change(changes, client, factory):
    ci = changes.ci()
    change = changes.move(changes.change(cis=[ci]), "assess", "authorize")
    headers = {**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'}
    frozen = client.patch(
        f"/api/v1/changes/{change.id}", headers=headers, json={"backout_plan": "other"}
    )
    assert frozen.status_code == 409
    assert frozen.json()["type"] == "/problems/change-frozen"
    implementer = changes.agent()
    reassigned = client.patch(
        f"/api/v1/changes/{change.id}", headers=headers, json={"implementer_id": implementer.id}
    )
    assert reassigned.status_code == 200, reassigned.text
    assert reassigned.json()["implementer_id"] == implementer.id


def test_sending_back_to_assess_opens_a_new_cab_round(changes):
    change = changes.move(changes.change(cis=[changes.ci()]), "assess", "authorize")
    change = changes.decide(change, changes.manager(), "rejected")
    assert change.cab_outcome == "rejected"
    change = changes.move(change, "assess", "authorize")
    assert (change.cab_round, change.cab_outcome) == (2, "pending")
    change = changes.decide(change, changes.manager())
    change = changes.decide(change, changes.manager())
    assert change.cab_outcome == "approved"


def test_transitions_need_the_current_version(changes, client, factory):
    change = changes.change(cis=[changes.ci()])
    headers = factory.auth_headers(changes.agent())
    url = f"/api/v1/changes/{change.id}/transition"
    assert client.post(url, headers=headers, json={"to": "assess"}).status_code == 428
    moved = client.post(url, headers={**headers, "If-Match": '"1"'}, json={"to": "assess"})
    assert moved.status_code == 200
    stale = client.post(url, headers={**headers, "If-Match": '"1"'}, json={"to": "cancelled"})
    assert stale.status_code == 412
    assert client.get(f"/api/v1/changes/{change.id}", headers=headers).json()["state"] == "assess"


def test_cancelled_is_final(changes, client, factory):
    change = changes.move(changes.change(), "cancelled")
    response = client.post(
        f"/api/v1/changes/{change.id}/transition",
        headers={**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'},
        json={"to": "assess"},
    )
    assert response.status_code == 409
    assert response.json()["allowed"] == []
    assert change.closed_at is not None


def test_only_change_writers_raise_changes(client, headers_for):
    body = {"change_type": "normal", "title": "x"}
    for role in ("manager", "requester", "auditor"):
        response = client.post("/api/v1/changes", headers=headers_for(role), json=body)
        assert response.status_code == 403, role
    assert client.get("/api/v1/changes", headers=headers_for("auditor")).status_code == 200
