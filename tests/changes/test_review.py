"""The post-implementation review, and incidents caused by a change."""

from operational.events import service as events


def _in_review(changes, **fields):
    change = changes.scheduled(changes.change(cis=[changes.ci()], **fields))
    return changes.move(change, "implement", "review")


def test_a_failed_change_that_caused_incidents_links_them(changes, client, factory, session):
    change = _in_review(changes)
    ci = change.ci_links[0].ci
    first, second = changes.cmdb.incident(ci), changes.cmdb.incident(ci)
    versions = (first.version, second.version)
    response = client.post(
        f"/api/v1/changes/{change.id}/review",
        headers={**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'},
        json={
            "outcome": "failed",
            "caused_incidents": True,
            "incident_ids": [first.id, second.id],
            "notes": "The new TLS settings broke old mail clients",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["state"], body["review_outcome"], body["review_caused_incidents"]) == (
        "failed",
        "failed",
        True,
    )
    assert body["caused_incident_ids"] == [first.id, second.id]
    session.refresh(first)
    assert first.caused_by_change_id == change.id
    assert first.version == versions[0] + 1
    linked = [
        (event.field, event.new_value)
        for event in events.list_for(session=session, entity_type="incident", entity_id=first.id)
    ]
    assert linked == [("caused_by_change", change.number)]


def test_backed_out_and_successful_reviews_end_in_their_state(changes):
    assert changes.review(_in_review(changes), outcome="backed_out").state == "backed_out"
    assert changes.review(_in_review(changes)).state == "closed"


def test_leaving_review_goes_through_the_review(changes, client, factory):
    change = _in_review(changes)
    response = client.post(
        f"/api/v1/changes/{change.id}/transition",
        headers={**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'},
        json={"to": "closed"},
    )
    assert response.status_code == 409
    assert response.json()["allowed"] == ["closed", "failed", "backed_out"]
    assert response.json()["via"] == f"/api/v1/changes/{change.id}/review"


def test_a_review_needs_a_change_in_review_and_consistent_answers(changes, client, factory):
    change = changes.scheduled(changes.change(cis=[changes.ci()]))
    headers = {**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'}
    url = f"/api/v1/changes/{change.id}/review"
    early = client.post(
        url,
        headers=headers,
        json={"outcome": "successful", "caused_incidents": False, "notes": "x"},
    )
    assert early.status_code == 409
    contradictory = client.post(
        url,
        headers=headers,
        json={"outcome": "failed", "caused_incidents": False, "incident_ids": [1], "notes": "x"},
    )
    assert contradictory.status_code == 422


def test_an_incident_can_be_linked_after_the_review(changes, client, factory):
    change = changes.review(_in_review(changes))
    incident = changes.cmdb.incident(changes.ci())
    headers = factory.auth_headers(changes.agent())
    response = client.post(
        f"/api/v1/changes/{change.id}/caused-incidents",
        headers=headers,
        json={"incident_id": incident.id},
    )
    assert response.status_code == 200
    assert response.json()["caused_incident_ids"] == [incident.id]
    missing = client.post(
        f"/api/v1/changes/{change.id}/caused-incidents",
        headers=headers,
        json={"incident_id": 99999999},
    )
    assert missing.status_code == 422
    fresh = changes.change()
    not_implemented = client.post(
        f"/api/v1/changes/{fresh.id}/caused-incidents",
        headers=headers,
        json={"incident_id": incident.id},
    )
    assert not_implemented.status_code == 400
