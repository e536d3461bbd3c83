"""Nobody approves their own work: whoever raised a change, its requester and its implementer
cannot decide on it, and the CAB's tallies count only those who may (issue 12)."""

import pytest

from tests.conftest import assert_problem

CHANGES = "/api/v1/changes"


def _approve(client, factory, change, person, decision="approved"):
    return client.post(
        f"{CHANGES}/{change.id}/approvals",
        headers=factory.auth_headers(person),
        json={"decision": decision, "comment": "looked at it"},
    )


@pytest.fixture
def involved(changes):
    """A change raised by one admin, for a manager, implemented by another manager: all three
    hold change:approve."""
    raiser, requester, implementer = changes.admin(), changes.manager(), changes.manager()
    change = changes.change(
        actor=raiser,
        cis=[changes.ci()],
        requester_id=requester.id,
        implementer_id=implementer.id,
    )
    change = changes.move(change, "assess", "authorize")
    return change, {"raised": raiser, "requested": requester, "are implementing": implementer}


def test_the_change_records_who_raised_it_apart_from_its_requester(client, factory, involved):
    change, people = involved
    body = client.get(
        f"{CHANGES}/{change.id}", headers=factory.auth_headers(people["requested"])
    ).json()
    assert body["raised_by_id"] == people["raised"].id
    assert body["raised_by"] == people["raised"].display_name
    assert body["requester_id"] == people["requested"].id


def test_whoever_raised_requested_or_implements_a_change_cannot_approve_it(
    client, factory, involved, session
):
    change, people = involved
    for role, person in people.items():
        body = assert_problem(_approve(client, factory, change, person), 403, "self-approval")
        assert f"You {role} {change.number}" in body["detail"]
    session.refresh(change)
    assert change.approvals == [] and change.cab_outcome == "pending"


def test_the_tally_counts_only_those_who_may_decide(client, factory, changes, involved):
    change, _ = involved
    setter = changes.manager()
    rule = client.put(
        f"{CHANGES}/cab-rules/normal", headers=factory.auth_headers(setter), json={"rule": "all"}
    )
    assert rule.status_code == 200
    change = changes.move(changes.move(change, "assess"), "authorize")
    assert change.cab_rule == "all"
    outsiders = [changes.manager(), changes.manager()]
    # Everyone who holds change:approve: the three involved, the rule's setter and two more.
    first = _approve(client, factory, change, outsiders[0]).json()
    assert (first["cab_outcome"], first["cab_round"]) == ("pending", 2)
    _approve(client, factory, change, setter)
    last = _approve(client, factory, change, outsiders[1]).json()
    # "All" of the three who may decide: approved, though the involved three never voted.
    assert last["cab_outcome"] == "approved"


def test_an_approver_cannot_become_the_implementer(client, factory, changes):
    approver, other = changes.manager(), changes.manager()
    change = changes.move(changes.change(cis=[changes.ci()]), "assess", "authorize")
    assert _approve(client, factory, change, approver).status_code == 201
    changes.session.refresh(change)
    response = client.patch(
        f"{CHANGES}/{change.id}",
        headers={**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'},
        json={"implementer_id": approver.id},
    )
    body = assert_problem(response, 409, "conflict")
    assert body["field"] == "implementer_id"
    fine = client.patch(
        f"{CHANGES}/{change.id}",
        headers={**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'},
        json={"implementer_id": other.id},
    )
    assert fine.status_code == 200, fine.text
