"""CAB approval: the rule (all, quorum, any), self-approval, and every decision in the log."""

from datetime import datetime

import pytest

from operational.changes.cab import tally
from operational.events import service as events


def _authorizing(changes, **fields):
    return changes.move(changes.change(cis=[changes.ci()], **fields), "assess", "authorize")


def _set_rule(client, factory, changes, change_type, **rule):
    response = client.put(
        f"/api/v1/changes/cab-rules/{change_type}",
        headers=factory.auth_headers(changes.manager()),
        json=rule,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _decisions(session, change):
    return [
        event
        for event in events.list_for(session=session, entity_type="change", entity_id=change.id)
        if event.kind == "approval_decided"
    ]


def test_quorum_of_two_approves_on_the_second_approval(changes, client, factory, session):
    alice = changes.manager(display_name="Alice CAB")
    bob = changes.manager(display_name="Bob CAB")
    carol = changes.manager(display_name="Carol CAB")
    change = _authorizing(changes)

    first = client.post(
        f"/api/v1/changes/{change.id}/approvals",
        headers=factory.auth_headers(alice),
        json={"decision": "approved", "comment": "Backout is sound"},
    )
    assert first.status_code == 201
    assert first.json()["cab_outcome"] == "pending"
    second = client.post(
        f"/api/v1/changes/{change.id}/approvals",
        headers=factory.auth_headers(bob),
        json={"decision": "approved", "comment": "Fine by ops"},
    )
    assert second.json()["cab_outcome"] == "approved"
    late = client.post(
        f"/api/v1/changes/{change.id}/approvals",
        headers=factory.auth_headers(carol),
        json={"decision": "rejected", "comment": "Too late"},
    )
    assert late.status_code == 409

    decided = _decisions(session, change)
    assert [
        (
            event.actor_id,
            event.actor_label,
            event.new_value,
            event.data["comment"],
            event.data["outcome"],
        )
        for event in decided
    ] == [
        (alice.id, "Alice CAB", "approved", "Backout is sound", "pending"),
        (bob.id, "Bob CAB", "approved", "Fine by ops", "approved"),
    ]
    assert all(event.occurred_at is not None for event in decided)
    approvals = client.get(
        f"/api/v1/changes/{change.id}/approvals", headers=factory.auth_headers(carol)
    ).json()
    assert [(item["approver"], item["decision"]) for item in approvals] == [
        ("Alice CAB", "approved"),
        ("Bob CAB", "approved"),
    ]
    assert datetime.fromisoformat(approvals[0]["decided_at"]) == decided[0].occurred_at


def test_rule_all_needs_everyone_and_one_rejection_decides(changes, client, factory):
    _set_rule(client, factory, changes, "normal", rule="all")
    approvers = [changes.manager(), changes.manager()]  # with the rule's setter: three
    change = _authorizing(changes)
    assert (change.cab_rule, change.cab_quorum) == ("all", None)
    change = changes.decide(change, approvers[0])
    change = changes.decide(change, approvers[1])
    assert change.cab_outcome == "pending"

    other = _authorizing(changes)
    other = changes.decide(other, approvers[0])
    other = changes.decide(other, approvers[1], "rejected")
    assert other.cab_outcome == "rejected"


def test_rule_any_needs_one_approval(changes, client, factory):
    _set_rule(client, factory, changes, "normal", rule="any")
    change = _authorizing(changes)
    change = changes.decide(change, changes.manager(), "rejected")
    assert change.cab_outcome == "pending"
    change = changes.decide(change, changes.manager())
    assert change.cab_outcome == "approved"


def test_quorum_out_of_reach_rejects(changes):
    first = changes.manager()
    changes.manager()
    change = _authorizing(changes)
    # Two possible approvers, two approvals needed: one rejection settles it.
    change = changes.decide(change, first, "rejected")
    assert change.cab_outcome == "rejected"


def test_the_rule_in_force_when_the_round_opened_applies(changes, client, factory):
    managers = [changes.manager() for _ in range(3)]
    change = _authorizing(changes)
    _set_rule(client, factory, changes, "normal", rule="any")
    change = changes.decide(change, managers[0])
    assert (change.cab_rule, change.cab_quorum, change.cab_outcome) == ("quorum", 2, "pending")


def test_the_requester_cannot_approve_their_own_change(changes, client, factory, session):
    admin = changes.admin()  # holds change:write and change:approve
    changes.manager()
    change = _authorizing(changes, actor=admin)
    response = client.post(
        f"/api/v1/changes/{change.id}/approvals",
        headers=factory.auth_headers(admin),
        json={"decision": "approved", "comment": "Mine, so fine"},
    )
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/self-approval"
    assert _decisions(session, change) == []


def test_one_decision_per_member_per_round_with_a_comment(changes, client, factory):
    manager = changes.manager()
    changes.manager()
    changes.manager()
    change = _authorizing(changes)
    headers = factory.auth_headers(manager)
    url = f"/api/v1/changes/{change.id}/approvals"
    assert client.post(url, headers=headers, json={"decision": "approved"}).status_code == 422
    assert (
        client.post(url, headers=headers, json={"decision": "approved", "comment": ""}).status_code
        == 422
    )
    ok = client.post(url, headers=headers, json={"decision": "approved", "comment": "ok"})
    assert ok.status_code == 201
    again = client.post(url, headers=headers, json={"decision": "rejected", "comment": "hmm"})
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/already-decided"


def test_only_cab_members_decide_and_manage_rules(changes, client, factory, headers_for):
    change = _authorizing(changes)
    body = {"decision": "approved", "comment": "ok"}
    url = f"/api/v1/changes/{change.id}/approvals"
    assert client.post(url, headers=headers_for("agent"), json=body).status_code == 403
    rule_url = "/api/v1/changes/cab-rules/normal"
    agent = headers_for("agent")
    assert client.put(rule_url, headers=agent, json={"rule": "any"}).status_code == 403
    manager = headers_for("manager")
    assert client.put(rule_url, headers=manager, json={"rule": "quorum"}).status_code == 422
    assert (
        client.put(rule_url, headers=manager, json={"rule": "any", "quorum": 2}).status_code == 422
    )
    assert (
        client.put(
            "/api/v1/changes/cab-rules/standard", headers=manager, json={"rule": "any"}
        ).status_code
        == 404
    )
    rules = client.get("/api/v1/changes/cab-rules", headers=headers_for("auditor")).json()
    assert [(rule["change_type"], rule["rule"], rule["quorum"]) for rule in rules] == [
        ("emergency", "quorum", 1),
        ("normal", "quorum", 2),
    ]


@pytest.mark.parametrize(
    ("rule", "quorum", "decisions", "pool", "outcome"),
    [
        ("quorum", 2, ["approved"], 3, "pending"),
        ("quorum", 2, ["approved", "approved"], 3, "approved"),
        ("quorum", 2, ["rejected", "rejected"], 3, "rejected"),
        ("quorum", 2, ["rejected"], 3, "pending"),
        ("quorum", 3, ["approved"], 2, "rejected"),
        ("all", None, ["approved", "approved"], 3, "pending"),
        ("all", None, ["approved", "approved", "approved"], 3, "approved"),
        ("all", None, ["rejected"], 3, "rejected"),
        ("any", None, ["rejected", "rejected"], 3, "pending"),
        ("any", None, ["rejected", "approved"], 3, "approved"),
        ("any", None, ["rejected", "rejected", "rejected"], 3, "rejected"),
    ],
)
def test_tally(rule, quorum, decisions, pool, outcome):
    assert tally(rule=rule, quorum=quorum, decisions=decisions, pool_size=pool).outcome == outcome


def test_the_list_of_changes_waiting_for_my_decision(changes, client, factory):
    alice = changes.manager(display_name="Alice CAB")
    bob = changes.manager(display_name="Bob CAB")
    changes.manager()
    waiting = _authorizing(changes, title="Waiting for the CAB")
    decided_by_alice = changes.decide(_authorizing(changes, title="Alice decided"), alice)
    alices_own = _authorizing(changes, title="Alice requested", requester_id=alice.id)
    changes.change(title="Still new")

    def waiting_for(user):
        response = client.get(
            "/api/v1/changes",
            headers=factory.auth_headers(user),
            params={"awaiting_my_decision": "true", "sort": "number"},
        )
        assert response.status_code == 200, response.text
        return [item["number"] for item in response.json()["items"]]

    # Neither her own change nor one she decided in this round waits for Alice; both wait for Bob.
    assert waiting_for(alice) == [waiting.number]
    assert waiting_for(bob) == sorted([waiting.number, decided_by_alice.number, alices_own.number])
    # Without change:approve nothing waits for you.
    assert waiting_for(changes.agent()) == []
    # Sent back to assess, then a new round: Alice is asked again.
    again = changes.move(decided_by_alice, "assess", "authorize")
    assert again.number in waiting_for(alice)
