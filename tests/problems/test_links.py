from sqlalchemy import select

from operational.events.models import Event
from operational.sla.models import SlaTimer
from tests.conftest import assert_problem
from tests.problems.conftest import URL

INCIDENTS = "/api/v1/incidents"


def _log(session, entity_type: str, entity_id: int, field: str | None = None) -> list[Event]:
    statement = (
        select(Event)
        .where(Event.entity_type == entity_type, Event.entity_id == entity_id)
        .order_by(Event.seq)
    )
    if field:
        statement = statement.where(Event.field == field)
    return list(session.scalars(statement))


def test_linking_and_unlinking_are_events_on_both_sides(session, client, problems, incidents):
    incident = incidents.incident()
    problem = problems.create()
    linked = problems.link(problem, incident.id)
    assert linked.status_code == 201, linked.text
    assert linked.json()["number"] == incident.number
    session.refresh(incident)
    assert incident.problem_id == problem["id"]
    assert incident.version == 2  # the link changed the incident
    [incident_side] = _log(session, "incident", incident.id, "problem")
    assert (incident_side.old_value, incident_side.new_value) == (None, problem["number"])
    [problem_side] = _log(session, "problem", problem["id"], "incident")
    assert problem_side.new_value == incident.number
    assert problem_side.data == {"incident_id": incident.id, "action": "linked"}
    assert problems.get(problem)["linked_incidents"] == 1
    listed = client.get(f"{URL}/{problem['id']}/incidents", headers=problems.headers).json()
    assert [item["id"] for item in listed["items"]] == [incident.id]

    removed = client.delete(
        f"{URL}/{problem['id']}/incidents/{incident.id}", headers=problems.headers
    )
    assert removed.status_code == 204
    session.refresh(incident)
    assert incident.problem_id is None
    assert [e.new_value for e in _log(session, "incident", incident.id, "problem")] == [
        problem["number"],
        None,
    ]
    assert _log(session, "problem", problem["id"], "incident")[-1].data["action"] == "unlinked"
    again = client.delete(
        f"{URL}/{problem['id']}/incidents/{incident.id}", headers=problems.headers
    )
    assert_problem(again, 422)


def test_moving_an_incident_to_another_problem_logs_it_on_both_problems(
    session, problems, incidents
):
    incident = incidents.incident()
    first, second = problems.create(), problems.create(title="Second")
    problems.link(first, incident.id)
    problems.link(second, incident.id)
    [moved] = _log(session, "incident", incident.id, "problem")[-1:]
    assert (moved.old_value, moved.new_value) == (first["number"], second["number"])
    assert _log(session, "problem", first["id"], "incident")[-1].data["action"] == "unlinked"
    assert problems.get(first)["linked_incidents"] == 0
    # Linking the same problem again changes nothing.
    problems.link(second, incident.id)
    assert len(_log(session, "problem", second["id"], "incident")) == 1


def test_a_waiting_incident_is_on_hold_awaiting_that_problem(
    session, client, problems, working_incident
):
    incident = working_incident()
    problem = problems.create()
    response = problems.link(problem, incident.id, wait=True)
    assert response.json()["waiting"] is True
    session.refresh(incident)
    assert (incident.state, incident.hold_reason, incident.problem_id) == (
        "on_hold",
        "awaiting_problem",
        problem["id"],
    )
    shown = client.get(f"{INCIDENTS}/{incident.id}", headers=problems.headers).json()
    assert (shown["hold_reason"], shown["problem_id"]) == ("awaiting_problem", problem["id"])
    # Unlinking releases it: it goes back to work.
    client.delete(f"{URL}/{problem['id']}/incidents/{incident.id}", headers=problems.headers)
    session.refresh(incident)
    assert (incident.state, incident.hold_reason, incident.problem_id) == (
        "in_progress",
        None,
        None,
    )


def test_waiting_follows_the_incident_workflow(session, problems, incidents):
    new_incident = incidents.incident()  # new: it cannot go on hold before work starts
    problem = problems.create()
    refused = problems.link(problem, new_incident.id, wait=True)
    assert_problem(refused, 409, "invalid-transition")
    session.refresh(new_incident)
    assert new_incident.problem_id is None  # the link was undone with the refused hold


def test_resolving_the_problem_notifies_the_incidents_waiting_for_it(
    session, problems, working_incident
):
    waiting, linked_only = working_incident(), working_incident()
    problem = problems.create()
    problems.link(problem, waiting.id, wait=True)
    problems.link(problem, linked_only.id)
    problems.analysed(problem)
    problems.moved(problem, "fix_in_progress")
    resolved = problems.move(problem, "resolved").json()
    assert resolved["notified_incident_ids"] == [waiting.id]
    [note] = [e for e in _log(session, "incident", waiting.id) if e.kind == "notified"]
    assert note.new_value == problem["number"]
    assert note.data["reason"] == "problem_resolved"
    assert note.data["recipients"] == [waiting.requester_id, waiting.assignee_id]
    assert not [e for e in _log(session, "incident", linked_only.id) if e.kind == "notified"]


def test_bulk_resolution_resolves_the_waiting_incidents_through_the_incident_flows(
    session, client, problems, working_incident
):
    first, second, other = working_incident(), working_incident(), working_incident()
    problem = problems.create()
    for incident in (first, second):
        problems.link(problem, incident.id, wait=True)
    problems.link(problem, other.id)  # linked, not waiting
    early = client.post(
        f"{URL}/{problem['id']}/incidents/resolve", json={}, headers=problems.headers
    )
    assert_problem(early, 409, "problem-not-resolved")

    problems.resolved(problem)
    response = client.post(
        f"{URL}/{problem['id']}/incidents/resolve", json={}, headers=problems.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(item["id"] for item in body["resolved"]) == sorted([first.id, second.id])
    assert body["skipped"] == []
    for incident in (first, second):
        session.refresh(incident)
        assert incident.state == "resolved"
        assert incident.resolution_code == "solved_permanently"
        assert problem["number"] in incident.resolution_notes
        # The SLA timers followed the resolution (the flow recomputed them).
        timer = session.scalar(
            select(SlaTimer).where(
                SlaTimer.incident_id == incident.id, SlaTimer.target == "resolution"
            )
        )
        assert timer.state == "met"
    session.refresh(other)
    assert other.state == "in_progress"


def test_bulk_resolution_of_named_incidents_skips_those_it_cannot_resolve(
    session, client, problems, working_incident, incidents
):
    linked, unlinked = working_incident(), working_incident()
    problem = problems.create()
    problems.link(problem, linked.id)
    problems.resolved(problem)
    response = client.post(
        f"{URL}/{problem['id']}/incidents/resolve",
        json={"incident_ids": [linked.id, unlinked.id, 987654], "resolution_notes": "Patched"},
        headers=problems.headers,
    )
    body = response.json()
    assert [item["id"] for item in body["resolved"]] == [linked.id]
    reasons = {item["incident_id"]: item["reason"] for item in body["skipped"]}
    assert set(reasons) == {unlinked.id, 987654}
    assert "not linked" in reasons[unlinked.id]
    session.refresh(linked)
    assert linked.resolution_notes == "Patched"


def test_a_closed_problem_takes_no_new_incidents(problems, incidents):
    problem = problems.create()
    problems.move(problem, "closed", reason="Not a problem")
    assert_problem(problems.link(problem, incidents.incident().id), 409, "problem-closed")
