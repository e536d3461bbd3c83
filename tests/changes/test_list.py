"""The change list: the Page contract with filters and sort; the change history."""

from datetime import timedelta

from .conftest import MONDAY


def test_list_filters_and_sorts(changes, client, headers_for):
    db = changes.ci("ledger-db", ci_class="database", criticality=1)
    low = changes.change(title="Rotate logs", risk_answers={"done_before": True})
    high = changes.change(title="Migrate ledger", cis=[db], start=MONDAY + timedelta(days=2))
    cancelled = changes.move(changes.change(title="Abandoned"), "cancelled")
    headers = headers_for("auditor")

    def numbers(**params):
        response = client.get("/api/v1/changes", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["number"] for item in response.json()["items"]]

    assert numbers(sort="-risk_score,number")[0] == high.number
    assert numbers(state="cancelled") == [cancelled.number]
    assert numbers(ci_id=db.id) == [high.number]
    assert numbers(q="ledger") == [high.number]
    assert numbers(q="Migrate_ledger") == []  # "_" is text, not any character
    assert numbers(planned_from="2030-03-05T00:00:00Z") == [high.number]
    assert set(numbers(state=["new"], sort="number")) == {low.number, high.number}
    page = client.get("/api/v1/changes", headers=headers, params={"size": 1, "page": 2}).json()
    assert (page["total"], page["size"], len(page["items"])) == (3, 1, 1)
    assert client.get("/api/v1/changes", headers=headers, params={"sort": "x"}).status_code == 400
    assert (
        client.get("/api/v1/changes", headers=headers, params={"state": "lost"}).status_code == 422
    )


def test_the_history_holds_every_step(changes, client, headers_for):
    change = changes.scheduled(changes.change(cis=[changes.ci()]))
    body = client.get(f"/api/v1/changes/{change.id}/history", headers=headers_for("auditor"))
    kinds = [(item["kind"], item["field"], item["new_value"]) for item in body.json()["items"]]
    assert kinds == [
        ("created", None, change.number),
        ("state_changed", "state", "assess"),
        ("state_changed", "state", "authorize"),
        ("field_changed", "cab_outcome", "pending"),
        ("approval_decided", "approval", "approved"),
        ("approval_decided", "approval", "approved"),
        ("field_changed", "cab_outcome", "approved"),
        ("state_changed", "state", "scheduled"),
    ]
