import re

from sqlalchemy import select

from operational.events.models import Event
from tests.conftest import assert_problem
from tests.problems.conftest import URL


def _events(session, problem_id: int) -> list[Event]:
    return list(
        session.scalars(
            select(Event)
            .where(Event.entity_type == "problem", Event.entity_id == problem_id)
            .order_by(Event.seq)
        )
    )


def test_create_numbers_the_problem_and_ranks_it_by_the_incident_matrix(client, problems):
    created = client.post(
        URL,
        json={"title": "Payroll batch fails", "impact": 1, "urgency": 2, "service": "Payroll"},
        headers=problems.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert re.fullmatch(r"PRB\d{7}", body["number"])
    assert created.headers["location"] == f"{URL}/{body['id']}"
    assert created.headers["etag"] == '"1"'
    # Impact 1 x urgency 2 is P2 in the incidents' matrix, which problems share.
    assert (body["state"], body["priority"], body["version"]) == ("new", 2, 1)
    assert body["allowed_transitions"] == ["assessed", "closed"]
    by_number = client.get(f"{URL}/{body['number']}", headers=problems.headers)
    assert by_number.json()["id"] == body["id"]


def test_the_matrix_setting_moves_problem_priorities_too(client, problems, settings_env):
    settings_env(incident_priority_matrix="[[2,2,3],[2,3,4],[3,4,5]]")
    assert problems.create(impact=1, urgency=1)["priority"] == 2


def test_the_workflow_runs_new_to_closed_and_refuses_other_moves_naming_the_allowed(problems):
    problem = problems.create()
    skipped = problems.move(problem, "fix_in_progress")
    body = assert_problem(skipped, 409, "invalid-transition")
    assert body["allowed"] == ["assessed", "closed"]
    assert (body["current"], body["requested"]) == ("new", "fix_in_progress")

    problems.moved(problem, "assessed", "root_cause_analysis")
    # Fixing needs a root cause, resolving also fix notes: 422 naming what is missing.
    missing = assert_problem(problems.move(problem, "fix_in_progress"), 422, "problem-incomplete")
    assert missing["missing"] == ["root_cause"]
    problems.patch(problems.get(problem), root_cause="Certificate expired")
    problems.moved(problem, "fix_in_progress")
    missing = assert_problem(problems.move(problem, "resolved"), 422, "problem-incomplete")
    assert missing["missing"] == ["fix_notes"]
    problems.patch(problems.get(problem), fix_notes="Renewed; monitoring added")
    resolved = problems.moved(problem, "resolved")
    assert resolved["resolved_at"] is not None
    closed = problems.moved(problem, "closed")
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    assert closed["allowed_transitions"] == []
    # A closed problem no longer changes.
    assert_problem(problems.patch(closed, title="Later"), 409, "problem-closed")


def test_a_fix_that_did_not_hold_reopens_the_problem(problems):
    problem = problems.resolved(problems.create())
    assert problem["allowed_transitions"] == ["closed", "fix_in_progress"]
    reopened = problems.moved(problem, "fix_in_progress")
    assert reopened["resolved_at"] is None


def test_closing_an_unresolved_problem_needs_a_reason(problems):
    problem = problems.create()
    assert_problem(problems.move(problem, "closed"), 422, "problem-incomplete")
    closed = problems.move(problem, "closed", reason="Duplicate of PRB0000001")
    assert closed.json()["close_reason"] == "Duplicate of PRB0000001"


def test_updates_need_the_current_version(client, problems):
    problem = problems.create()
    missing = client.patch(f"{URL}/{problem['id']}", json={"title": "x"}, headers=problems.headers)
    assert_problem(missing, 428, "version-required")
    assert problems.patch(problem, title="New title").status_code == 200
    stale = problems.patch(problem, version=1, title="Other title")
    assert assert_problem(stale, 412, "stale-version")["current_version"] == 2
    assert problems.get(problem)["title"] == "New title"
    stale_move = client.post(
        f"{URL}/{problem['id']}/transition",
        json={"to": "assessed"},
        headers={**problems.headers, "If-Match": '"1"'},
    )
    assert_problem(stale_move, 412, "stale-version")


def test_each_rca_update_is_an_event(session, problems, cmdb):
    ci = cmdb.ci("mail-01")
    problem = problems.create(ci_ids=[ci.id])
    response = problems.patch(
        problem,
        symptom="Mail clients time out on Monday mornings",
        root_cause="Connection pool exhausted",
        root_cause_category="capacity",
        five_whys=["Clients time out", "Server refuses connections", "Pool is full"],
        contributing_factors=["No capacity alert", "Growth in staff"],
        root_cause_ci_id=ci.id,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["root_cause_ci"]["name"] == "mail-01"
    assert body["cis"][0]["id"] == ci.id
    assert body["root_cause_at"] is not None
    fields = [event.field for event in _events(session, problem["id"]) if event.kind != "created"]
    assert fields == [
        "symptom",
        "root_cause",
        "root_cause_category",
        "five_whys",
        "contributing_factors",
        "root_cause_ci",
    ]
    whys = next(event for event in _events(session, problem["id"]) if event.field == "five_whys")
    assert whys.new_value == "Clients time out\nServer refuses connections\nPool is full"
    # Sending the same values again changes nothing: no version bump, no event.
    again = problems.patch(problems.get(problem), root_cause="Connection pool exhausted")
    assert again.json()["version"] == body["version"]


def test_the_causing_change_is_checked_through_the_changes_domain(problems, changes):
    change = changes.change()
    problem = problems.create()
    unknown = problems.patch(problem, caused_by_change_id=987654)
    assert assert_problem(unknown, 422)["field"] == "caused_by_change_id"
    linked = problems.patch(problems.get(problem), caused_by_change_id=change.id)
    assert linked.json()["caused_by_change_id"] == change.id


def test_unknown_people_and_cis_are_refused(problems):
    refused = problems.client.post(
        URL, json={"title": "x", "owner_id": 987654}, headers=problems.headers
    )
    assert assert_problem(refused, 422)["field"] == "owner_id"
    not_found = problems.client.post(
        URL, json={"title": "x", "ci_ids": [987654]}, headers=problems.headers
    )
    assert_problem(not_found, 404)
    # ... and the OpenAPI document says so (the fuzz test found it answered undocumented).
    documented = problems.client.get("/openapi.json").json()["paths"][URL]["post"]["responses"]
    assert "404" in documented


def test_list_filters_sorts_and_searches(client, problems):
    first = problems.create(title="VPN tunnel flaps", service="VPN", impact=1, urgency=1)
    problems.create(title="Printer spooler hangs", service="Printing")
    problems.patch(first, workaround="Reconnect with the backup gateway")
    found = client.get(URL, params={"service": "vpn"}, headers=problems.headers).json()
    assert [item["id"] for item in found["items"]] == [first["id"]]
    by_text = client.get(URL, params={"q": "gateway"}, headers=problems.headers).json()
    assert [item["id"] for item in by_text["items"]] == [first["id"]]
    by_priority = client.get(URL, params={"sort": "priority"}, headers=problems.headers).json()
    assert by_priority["items"][0]["id"] == first["id"]
    bad_sort = client.get(URL, params={"sort": "nonsense"}, headers=problems.headers)
    assert_problem(bad_sort, 400)


def test_history_lists_every_change(client, problems):
    problem = problems.create()
    problems.moved(problem, "assessed")
    history = client.get(f"{URL}/{problem['id']}/history", headers=problems.headers).json()
    assert [item["kind"] for item in history["items"]] == ["created", "state_changed"]


def test_a_missing_problem_is_a_404_problem(client, problems):
    assert_problem(client.get(f"{URL}/PRB9999999", headers=problems.headers), 404)
