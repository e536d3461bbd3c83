"""Bulk updates of incidents through the API: each record on its own rules."""

from sqlalchemy import func, select

from operational.customfields import service as customfields_service
from operational.customfields.schemas import DefinitionCreate
from operational.events.models import Event
from operational.incidents import flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentUpdate
from tests.bulk.conftest import RESOLVE, outcomes
from tests.conftest import assert_problem

URL = "/api/v1/incidents/bulk"


def _in_progress(incidents, agent, **fields):
    incident = incidents.incident(actor=agent, assignee_id=agent.id, **fields)
    return flows.update(
        session=incidents.session,
        incident=incident,
        data=IncidentUpdate(state="in_progress"),
        actor=agent,
        expected_version=incident.version,
    ).incident


def test_mixed_results_each_record_on_its_own(client, factory, incidents, session, events_of):
    agent = incidents.agent()
    workable = _in_progress(incidents, agent)
    workable_version = workable.version
    done_already = incidents.resolved(actor=agent)
    brand_new = incidents.incident(actor=agent)  # new → resolved is not a move of the workflow
    stale = _in_progress(incidents, agent)
    read_version = stale.version
    flows.update(
        session=session,
        incident=stale,
        data=IncidentUpdate(title="Changed meanwhile"),
        actor=agent,
        expected_version=stale.version,
    )

    response = client.post(
        URL,
        headers=factory.auth_headers(agent),
        json={
            "ids": [
                workable.id,
                done_already.number,
                brand_new.id,
                "INC9999999",
                {"id": stale.id, "version": read_version},
            ],
            "update": RESOLVE,
        },
    )

    assert response.status_code == 200, response.text
    job = response.json()
    assert response.headers["Location"] == job["url"] == f"/api/v1/bulk-jobs/{job['id']}"
    assert (job["status"], job["total"], job["processed"]) == ("done", 5, 5)
    assert (job["updated"], job["skipped"], job["failed"]) == (1, 1, 3)
    assert outcomes(job) == [
        (str(workable.id), "updated"),
        (done_already.number, "skipped"),
        (str(brand_new.id), "failed"),
        ("INC9999999", "failed"),
        (str(stale.id), "failed"),
    ]
    updated, skipped, refused, missing, stale_result = job["results"]["items"]
    assert (updated["number"], updated["version"]) == (workable.number, workable_version + 1)
    assert skipped["reason"] == "already resolved"
    assert refused["problem"]["status"] == 409
    assert refused["problem"]["type"] == "/problems/invalid-transition"
    assert refused["problem"]["allowed"] == ["assigned", "in_progress", "cancelled"]
    assert refused["problem"]["instance"] == f"/api/v1/incidents/{brand_new.id}"
    assert (missing["problem"]["status"], missing["record_id"]) == (404, None)
    assert stale_result["problem"]["type"] == "/problems/stale-version"
    assert stale_result["problem"]["current_version"] == read_version + 1

    session.expire_all()
    assert session.get(Incident, workable.id).state == "resolved"
    assert session.get(Incident, brand_new.id).state == "new"
    assert session.get(Incident, stale.id).state == "in_progress"
    # Each change the job made is an event that names it; nothing else does.
    named = [e for e in events_of("incident", workable.id) if e.data and "bulk_job_id" in e.data]
    assert {event.kind for event in named} >= {"state_changed", "field_changed"}
    assert {event.data["bulk_job_id"] for event in named} == {job["id"]}
    for other in (done_already, brand_new, stale):
        assert not [
            e for e in events_of("incident", other.id) if e.data and "bulk_job_id" in e.data
        ]


def test_the_job_and_its_results_page_by_page(client, factory, incidents):
    agent = incidents.agent()
    listed = [_in_progress(incidents, agent) for _ in range(3)]
    headers = factory.auth_headers(agent)
    job = client.post(
        URL,
        headers=headers,
        json={"ids": [incident.id for incident in listed], "update": {"urgency": 1}},
    ).json()

    first = client.get(f"/api/v1/bulk-jobs/{job['id']}?size=2", headers=headers).json()
    second = client.get(f"/api/v1/bulk-jobs/{job['id']}?size=2&page=2", headers=headers).json()
    assert (first["status"], first["updated"], first["results"]["total"]) == ("done", 3, 3)
    assert [
        item["record_id"] for item in first["results"]["items"] + second["results"]["items"]
    ] == [incident.id for incident in listed]
    only_failed = client.get(f"/api/v1/bulk-jobs/{job['id']}?outcome=failed", headers=headers)
    assert only_failed.json()["results"]["total"] == 0
    mine = client.get("/api/v1/bulk-jobs", headers=headers).json()
    assert [item["id"] for item in mine["items"]] == [job["id"]]
    # Someone else's job is not found, exactly like a missing one.
    other = factory.auth_headers(incidents.agent())
    assert_problem(client.get(f"/api/v1/bulk-jobs/{job['id']}", headers=other), 404)
    assert client.get("/api/v1/bulk-jobs", headers=other).json()["total"] == 0


def test_assignment_and_a_comment_with_each_change(client, factory, incidents, events_of):
    team = incidents.team()
    agent = incidents.agent(teams=(team,))
    outsider = incidents.agent()
    first, second = incidents.incident(actor=agent), incidents.incident(actor=agent)
    response = client.post(
        URL,
        headers=factory.auth_headers(agent),
        json={
            "ids": [first.id, second.number],
            "update": {"assignment_group_id": team.id, "assignee_id": agent.id},
            "comment": {"body": "Taken over by the network team", "is_public": False},
        },
    )
    assert response.json()["updated"] == 2
    for incident in (first, second):
        kinds = [event.kind for event in events_of("incident", incident.id)]
        assert "assigned" in kinds and "work_note_added" in kinds
        note = [e for e in events_of("incident", incident.id) if e.kind == "work_note_added"]
        assert note[0].data["bulk_job_id"] == response.json()["id"]

    # Assigning someone outside the team fails per record with the single update's 422.
    refused = client.post(
        URL,
        headers=factory.auth_headers(agent),
        json={"ids": [first.id], "update": {"assignee_id": outsider.id}},
    ).json()
    assert refused["failed"] == 1
    assert refused["results"]["items"][0]["problem"]["type"] == "/problems/assignee-not-in-team"


def test_a_change_that_changes_nothing_is_skipped_without_its_comment(
    client, factory, incidents, events_of
):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, urgency=1)
    job = client.post(
        URL,
        headers=factory.auth_headers(agent),
        json={
            "ids": [incident.id, incident.number],
            "update": {"urgency": 1},
            "comment": {"body": "Raised the urgency"},
        },
    ).json()
    assert [item["reason"] for item in job["results"]["items"]] == [
        "nothing to change",
        "listed twice",
    ]
    assert "comment_added" not in [event.kind for event in events_of("incident", incident.id)]


def test_only_those_who_may_update_incidents_may_bulk_update_them(client, factory, incidents):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent)
    requester = incidents.requester()
    own = incidents.incident(actor=requester)
    body = {"ids": [incident.id, own.id], "update": {"urgency": 1}}
    for role in ("requester", "manager", "auditor"):
        headers = factory.auth_headers(factory.user(roles=(role,)))
        assert_problem(client.post(URL, headers=headers, json=body), 403, "forbidden")
    # Not even on their own incidents: a requester's change goes through PATCH rules.
    assert_problem(
        client.post(URL, headers=factory.auth_headers(requester), json=body), 403, "forbidden"
    )


def test_filter_selection_with_a_preview_that_changes_nothing(client, factory, incidents, session):
    team = incidents.team()
    agent = incidents.agent(teams=(team,))
    matching = [incidents.incident(actor=agent, assignment_group_id=team.id) for _ in range(3)]
    incidents.incident(actor=agent)  # another team's: not matched
    headers = factory.auth_headers(agent)
    events_before = session.scalar(select(func.count()).select_from(Event))
    body = {
        "filter": {"assignment_group_id": team.id, "state": ["assigned"]},
        "update": {"impact": 1, "urgency": 1},
        "dry_run": True,
    }

    preview = client.post(URL, headers=headers, json=body)

    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "dry_run": True,
        "record_type": "incident",
        "matched": 3,
        "max_records": 1000,
        "within_limit": True,
        "background": False,
        "ids": [incident.id for incident in matching],
        "not_found": [],
    }
    assert session.scalar(select(func.count()).select_from(Event)) == events_before
    assert client.get("/api/v1/bulk-jobs", headers=headers).json()["total"] == 0

    job = client.post(URL, headers=headers, json={**body, "dry_run": False}).json()
    assert [item["record_id"] for item in job["results"]["items"]] == preview.json()["ids"]
    session.expire_all()
    assert {session.get(Incident, incident.id).priority for incident in matching} == {1}


def test_a_preview_of_ids_names_those_not_found(client, factory, incidents):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent)
    preview = client.post(
        URL,
        headers=factory.auth_headers(agent),
        json={"ids": [incident.number, "INC0999999"], "update": {"urgency": 1}, "dry_run": True},
    ).json()
    assert (preview["matched"], preview["ids"], preview["not_found"]) == (
        1,
        [incident.id],
        ["INC0999999"],
    )


def test_the_maximum_per_call(client, factory, incidents, settings_env):
    settings_env(bulk_max_records="2")
    team = incidents.team()
    agent = incidents.agent(teams=(team,))
    listed = [incidents.incident(actor=agent, assignment_group_id=team.id) for _ in range(3)]
    headers = factory.auth_headers(agent)

    by_ids = client.post(
        URL, headers=headers, json={"ids": [i.id for i in listed], "update": {"urgency": 1}}
    )
    body = assert_problem(by_ids, 422, "too-many-records")
    assert (body["matched"], body["max_records"]) == (3, 2)
    by_filter = {"filter": {"assignment_group_id": team.id}, "update": {"urgency": 1}}
    assert assert_problem(client.post(URL, headers=headers, json=by_filter), 422)["matched"] == 3
    preview = client.post(URL, headers=headers, json={**by_filter, "dry_run": True}).json()
    assert (preview["matched"], preview["within_limit"], len(preview["ids"])) == (3, False, 2)
    assert client.get("/api/v1/bulk-jobs", headers=headers).json()["total"] == 0


def test_malformed_requests_are_refused_whole(client, factory, incidents):
    headers = factory.auth_headers(incidents.agent())
    for body in (
        {"ids": [1], "filter": {"state": ["new"]}, "update": {"urgency": 1}},
        {"update": {"urgency": 1}},
        {"ids": [], "update": {"urgency": 1}},
        {"ids": [1]},
        {"ids": [1], "update": {"urgency": 1, "version": 3}},
        {"filter": {"stat": ["new"]}, "update": {"urgency": 1}},  # a typo would select all
        {"ids": [1], "update": {"title": None}},
    ):
        assert_problem(client.post(URL, headers=headers, json=body), 422, "validation-error")


def test_an_agent_of_another_team_may_do_in_bulk_what_they_may_do_one_by_one(
    client, factory, incidents
):
    """Agents work every incident (incident:write is not per team): bulk grants nothing more
    and nothing less than PATCH."""
    network, desk = incidents.team(), incidents.team()
    owner = incidents.agent(teams=(network,))
    other = incidents.agent(teams=(desk,))
    first, second = (
        incidents.incident(actor=owner, assignment_group_id=network.id) for _ in range(2)
    )
    headers = factory.auth_headers(other)
    single = client.patch(
        f"/api/v1/incidents/{first.id}",
        headers={**headers, "If-Match": f'"{first.version}"'},
        json={"urgency": 1},
    )
    assert single.status_code == 200, single.text
    job = client.post(
        URL, headers=headers, json={"ids": [second.id], "update": {"urgency": 1}}
    ).json()
    assert outcomes(job) == [(str(second.id), "updated")]


def test_a_record_that_fails_half_way_keeps_none_of_its_changes(
    client, factory, incidents, session, events_of
):
    """The urgency is written before the move is refused (422: nobody assigned): the record's
    savepoint undoes it, and the other record keeps its whole update."""
    agent = incidents.agent()
    assigned = incidents.incident(actor=agent, assignee_id=agent.id)
    unassigned = incidents.incident(actor=agent)
    events_before = len(events_of("incident", unassigned.id))
    job = client.post(
        URL,
        headers=factory.auth_headers(agent),
        json={
            "ids": [assigned.id, unassigned.id],
            "update": {"urgency": 1, "state": "in_progress"},
        },
    ).json()
    assert outcomes(job) == [(str(assigned.id), "updated"), (str(unassigned.id), "failed")]
    assert job["results"]["items"][1]["problem"]["status"] == 422
    session.expire_all()
    assert (session.get(Incident, assigned.id).urgency, assigned.state) == (1, "in_progress")
    assert session.get(Incident, unassigned.id).urgency == 3
    assert len(events_of("incident", unassigned.id)) == events_before


def test_a_filter_selects_by_custom_field_as_the_list_does(client, factory, incidents, session):
    admin = factory.user(roles=("admin",))
    customfields_service.create_definition(
        session=session,
        data=DefinitionCreate(
            record_type="incident",
            name="site",
            label="Site",
            type="choice",
            allowed_values=["Rotterdam", "Delft"],
        ),
        actor=admin,
    )
    agent = incidents.agent()
    in_rotterdam = [
        incidents.incident(actor=agent, custom_fields={"site": "Rotterdam"}) for _ in range(2)
    ]
    incidents.incident(actor=agent, custom_fields={"site": "Delft"})
    incidents.incident(actor=agent)
    headers = factory.auth_headers(agent)

    preview = client.post(
        URL,
        headers=headers,
        json={"filter": {"cf.site": "Rotterdam"}, "update": {"urgency": 1}, "dry_run": True},
    )
    listed = client.get("/api/v1/incidents", headers=headers, params={"cf.site": "Rotterdam"})

    assert preview.status_code == 200, preview.text
    assert preview.json()["ids"] == [incident.id for incident in in_rotterdam]
    assert sorted(item["id"] for item in listed.json()["items"]) == preview.json()["ids"]
    unknown = client.post(
        URL,
        headers=headers,
        json={"filter": {"cf.floor": "3"}, "update": {"urgency": 1}, "dry_run": True},
    )
    assert unknown.status_code == 400, unknown.text
