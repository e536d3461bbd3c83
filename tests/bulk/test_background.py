"""Large bulk updates run in the worker as a job: progress, completion, the caller's identity."""

from datetime import UTC, datetime

from sqlalchemy import select

from operational import worker
from operational.auth.models import UserRole
from operational.bulk import flows as bulk_flows
from operational.bulk.models import BulkJob
from operational.bulk.schemas import IncidentBulkRequest
from operational.core.db import session_scope
from operational.incidents import flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate
from tests.bulk.conftest import outcomes
from tests.factories import Factory

URL = "/api/v1/incidents/bulk"


def test_a_large_job_runs_in_the_worker_with_progress_to_completion(
    client, factory, incidents, settings_env, run_worker, session, events_of
):
    settings_env(bulk_background_threshold="3")
    agent = incidents.agent()
    listed = [incidents.incident(actor=agent) for _ in range(5)]
    headers = factory.auth_headers(agent)

    response = client.post(
        URL,
        headers=headers,
        json={"ids": [incident.number for incident in listed], "update": {"impact": 1}},
    )

    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["background"], job["total"], job["processed"]) == (
        "queued",
        True,
        5,
        0,
    )
    assert response.headers["Location"] == f"/api/v1/bulk-jobs/{job['id']}"
    assert job["results"]["items"] == []

    assert run_worker(chunk=2, budget=2).bulk_records == 2
    halfway = client.get(response.headers["Location"], headers=headers).json()
    assert (halfway["status"], halfway["processed"], halfway["results"]["total"]) == (
        "running",
        2,
        2,
    )
    assert halfway["started_at"] is not None and halfway["finished_at"] is None

    assert run_worker(chunk=2).bulk_records == 3
    done = client.get(response.headers["Location"], headers=headers).json()
    assert (done["status"], done["processed"], done["updated"]) == ("done", 5, 5)
    assert outcomes(done) == [(incident.number, "updated") for incident in listed]
    assert done["finished_at"] is not None
    for incident in listed:
        assert session.get(Incident, incident.id).impact == 1
        named = [e for e in events_of("incident", incident.id) if e.field == "impact"]
        assert named[0].data["bulk_job_id"] == job["id"]
        assert named[0].actor_id == agent.id  # the job acts as its caller
    assert run_worker().bulk_records == 0  # nothing is done twice


def test_a_small_job_may_ask_for_the_background(client, factory, incidents, run_worker):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent)
    headers = factory.auth_headers(agent)
    response = client.post(
        URL,
        headers=headers,
        json={"ids": [incident.id], "update": {"urgency": 1}, "background": True},
    )
    assert (response.status_code, response.json()["status"]) == (202, "queued")
    run_worker()
    assert client.get(response.headers["Location"], headers=headers).json()["updated"] == 1


def test_the_job_keeps_the_callers_permissions_as_they_are_when_it_runs(
    client, factory, incidents, settings_env, run_worker, session
):
    settings_env(bulk_background_threshold="1")
    agent = incidents.agent()
    listed = [incidents.incident(actor=agent) for _ in range(3)]
    headers = factory.auth_headers(agent)
    job = client.post(
        URL, headers=headers, json={"ids": [i.id for i in listed], "update": {"urgency": 1}}
    ).json()
    run_worker(chunk=1, budget=1)

    # The caller is no longer an agent: the job's remaining records are refused, one by one.
    session.execute(
        select(UserRole).where(UserRole.user_id == agent.id)
    ).scalar_one().role = "requester"
    session.flush()
    run_worker()

    finished = session.get(BulkJob, job["id"])
    assert (finished.status, finished.updated, finished.failed) == ("done", 1, 2)
    assert [session.get(Incident, i.id).urgency for i in listed] == [1, 3, 3]
    refused = client.get(f"/api/v1/bulk-jobs/{job['id']}?outcome=failed", headers=headers)
    assert [item["problem"]["status"] for item in refused.json()["results"]["items"]] == [403, 403]


def test_the_worker_runs_queued_jobs_in_its_own_transactions(committed_database):
    """Against a committed database, as ``itsm serve``'s worker thread runs it."""
    with session_scope() as session:
        agent = Factory(session).user(roles=("agent",))
        ids = [
            flows.create(
                session=session, data=IncidentCreate(title=f"Disk full {n}"), actor=agent
            ).incident.id
            for n in range(3)
        ]
        job = bulk_flows.submit_incidents(
            session=session,
            actor=agent,
            request=IncidentBulkRequest(ids=ids, update={"urgency": 2}, background=True),
        )
        job_id = job.id

    report = worker.run_once(now=datetime.now(UTC), dispatch=False)

    assert report.bulk_records == 3
    with session_scope() as session:
        finished = session.get(BulkJob, job_id)
        assert (finished.status, finished.updated) == ("done", 3)
        urgencies = session.scalars(select(Incident.urgency).where(Incident.id.in_(ids)))
        assert set(urgencies) == {2}
