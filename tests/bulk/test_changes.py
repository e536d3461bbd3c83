"""Bulk updates of changes: fields through the change's PATCH rules, moves through its workflow."""

from operational.changes.models import Change
from tests.bulk.conftest import outcomes
from tests.conftest import assert_problem

URL = "/api/v1/changes/bulk"


def test_moves_each_change_on_its_own_workflow(client, factory, changes, session, events_of):
    agent = changes.agent()
    fresh = changes.change(actor=agent)
    assessed = changes.move(changes.change(actor=agent), "assess")
    cancelled = changes.move(changes.change(actor=agent), "cancelled")
    stale = changes.change(actor=agent)
    read_version = stale.version
    changes.move(stale, "assess")
    fresh_version = fresh.version

    response = client.post(
        URL,
        headers=factory.auth_headers(agent),
        json={
            "ids": [
                fresh.id,
                assessed.id,
                cancelled.id,
                {"id": stale.id, "version": read_version},
                999999,
            ],
            "transition": {"to": "assess", "reason": "Quarterly patch round"},
        },
    )

    assert response.status_code == 200, response.text
    job = response.json()
    assert outcomes(job) == [
        (str(fresh.id), "updated"),
        (str(assessed.id), "skipped"),
        (str(cancelled.id), "failed"),
        (str(stale.id), "failed"),
        ("999999", "failed"),
    ]
    updated, skipped, refused, stale_result, missing = job["results"]["items"]
    assert (updated["number"], updated["version"]) == (fresh.number, fresh_version + 1)
    assert skipped["reason"] == "already assess"
    assert refused["problem"]["type"] == "/problems/invalid-transition"
    assert refused["problem"]["status"] == 409
    assert stale_result["problem"]["status"] == 412
    assert missing["problem"]["status"] == 404
    session.expire_all()
    assert session.get(Change, fresh.id).state == "assess"
    moved = [e for e in events_of("change", fresh.id) if e.kind == "state_changed"]
    assert moved[-1].data == {"reason": "Quarterly patch round", "bulk_job_id": job["id"]}


def test_fields_by_filter_and_frozen_changes_refused_per_record(client, factory, changes, session):
    team = factory.team()
    agent = changes.agent()
    editable = changes.change(actor=agent, assignment_group_id=team.id)
    authorized = changes.move(
        changes.change(actor=agent, assignment_group_id=team.id, cis=[changes.ci()]),
        "assess",
        "authorize",
    )
    changes.change(actor=agent)  # not the team's: not selected
    headers = factory.auth_headers(agent)
    body = {
        "filter": {"assignment_group_id": team.id},
        "update": {"test_plan": "Run the smoke suite twice"},
    }

    preview = client.post(URL, headers=headers, json={**body, "dry_run": True}).json()
    assert (preview["matched"], preview["ids"]) == (2, [editable.id, authorized.id])

    job = client.post(URL, headers=headers, json=body).json()
    assert outcomes(job) == [(str(editable.id), "updated"), (str(authorized.id), "failed")]
    assert job["results"]["items"][1]["problem"]["type"] == "/problems/change-frozen"
    session.expire_all()
    assert session.get(Change, editable.id).test_plan == "Run the smoke suite twice"
    assert session.get(Change, authorized.id).test_plan != "Run the smoke suite twice"


def test_only_change_workers_may_bulk_update_changes(client, factory, changes):
    change = changes.change()
    body = {"ids": [change.id], "transition": {"to": "cancelled"}}
    for role in ("manager", "requester", "auditor"):
        headers = factory.auth_headers(factory.user(roles=(role,)))
        assert_problem(client.post(URL, headers=headers, json=body), 403, "forbidden")
    assert_problem(
        client.post(
            URL,
            headers=factory.auth_headers(changes.agent()),
            json={"ids": [change.id], "filter": {}, "transition": {"to": "cancelled"}},
        ),
        422,
    )
