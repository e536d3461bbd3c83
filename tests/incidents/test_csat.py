import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from operational.core.errors import NotFound
from operational.incidents import csat, flows
from operational.incidents.exceptions import SurveyAlreadyAnswered, SurveyExpired
from operational.incidents.models import CsatSurvey

URL = "/api/v1/incidents"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _resolve_through_api(client, headers, incident, version):
    response = client.patch(
        f"{URL}/{incident['id']}",
        json={
            "state": "resolved",
            "resolution_code": "solved_permanently",
            "resolution_notes": "New toner",
        },
        headers={**headers, "If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _raised_for(client, factory, incidents):
    """An incident an agent raised for a requester and resolved: (ids, headers, resolution)."""
    agent = incidents.agent()
    requester = factory.user(roles=("requester",))
    agent_headers = factory.auth_headers(agent)
    incident = client.post(
        URL,
        json={"title": "Toner", "requester_id": requester.id, "assignee_id": agent.id},
        headers=agent_headers,
    ).json()
    resolved = _resolve_through_api(client, agent_headers, incident, 1)
    return incident, requester, agent_headers, factory.auth_headers(requester), resolved


def test_the_resolving_agent_never_sees_the_survey_token(client, factory, session, incidents):
    incident, _, agent_headers, _, resolved = _raised_for(client, factory, incidents)
    assert resolved["state"] == "resolved"
    assert resolved["csat_invitation"] is None
    assert (
        client.get(f"{URL}/{incident['id']}", headers=agent_headers).json()["csat_invitation"]
        is None
    )
    survey = client.get(f"{URL}/{incident['id']}/csat", headers=agent_headers).json()
    assert (survey["is_open"], survey["answer_url"]) == (True, None)
    # The survey exists, its token stored only as a hash, shown to nobody here.
    stored = session.query(CsatSurvey).filter_by(incident_id=incident["id"]).one()
    assert len(stored.token_hash) == 64 and stored.answered_at is None


def test_the_requester_answers_signed_in_and_the_answer_records_them(
    client, factory, session, incidents
):
    incident, requester, agent_headers, requester_headers, _ = _raised_for(
        client, factory, incidents
    )
    url = f"{URL}/{incident['id']}/csat"
    shown = client.get(url, headers=requester_headers).json()
    assert (shown["is_open"], shown["answer_url"]) == (
        True,
        f"/api/v1/incidents/{incident['id']}/csat",
    )
    # Only the requester answers: the agent who sees the incident may not.
    refused = client.post(url, json={"rating": 5}, headers=agent_headers)
    assert refused.status_code == 403, refused.text
    answer = client.post(url, json={"rating": 4, "comment": "Quick fix"}, headers=requester_headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["rating"], body["is_open"], body["answer_url"]) == (4, False, None)
    assert (body["answered_via"], body["answered_by_id"]) == ("requester", requester.id)
    again = client.post(url, json={"rating": 1}, headers=requester_headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    timeline = client.get(f"{URL}/{incident['id']}/timeline", headers=agent_headers).json()
    answered = [event for event in timeline if event["kind"] == "csat_answered"]
    assert [(event["actor_id"], event["new_value"]) for event in answered] == [(requester.id, "4")]
    assert answered[0]["data"]["via"] == "requester"


def test_who_resolves_their_own_incident_gets_the_link_and_the_token_answers_anonymously(
    client, factory, session, incidents
):
    agent = incidents.agent()
    headers = factory.auth_headers(agent)
    incident = client.post(
        URL, json={"title": "My own toner", "assignee_id": agent.id}, headers=headers
    ).json()
    assert incident["requester_id"] == agent.id
    resolved = _resolve_through_api(client, headers, incident, 1)
    invitation = resolved["csat_invitation"]
    token = invitation["token"]
    assert invitation["url"].endswith(f"/api/v1/csat/{token}")
    stored = session.query(CsatSurvey).filter_by(incident_id=incident["id"]).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token

    # Public: whoever holds the token answers, and the answer says it came through the token.
    survey = client.get(f"/api/v1/csat/{token}")
    assert (survey.json()["incident_number"], survey.json()["is_open"]) == (
        incident["number"],
        True,
    )
    answer = client.post(f"/api/v1/csat/{token}", json={"rating": 3})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["answered_via"], answer.json()["answered_by_id"]) == ("token", None)
    timeline = client.get(f"{URL}/{incident['id']}/timeline", headers=headers).json()
    (answered,) = [event for event in timeline if event["kind"] == "csat_answered"]
    assert (answered["actor_id"], answered["actor_label"]) == (None, "survey link (token)")
    assert answered["data"]["via"] == "token"
    second = client.post(f"/api/v1/csat/{token}", json={"rating": 1})
    assert second.status_code == 409


def test_bad_tokens_and_ratings_are_problems(client, factory, incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, assignee_id=agent.id)
    token = flows.transition(
        session=session,
        incident=incident,
        actor=agent,
        state="resolved",
        resolution_code="duplicate",
        resolution_notes="See INC0000001",
    ).survey_invitation.token
    assert client.get("/api/v1/csat/not-a-token").status_code == 404
    assert client.post("/api/v1/csat/not-a-token", json={"rating": 3}).status_code == 404
    for body in ({"rating": 6}, {"rating": 0}, {}, {"rating": 3, "extra": 1}):
        response = client.post(f"/api/v1/csat/{token}", json=body)
        assert response.status_code == 422, body
    assert client.post(f"/api/v1/csat/{token}", json={"rating": 5}).status_code == 200


def test_expired_and_superseded_surveys_are_gone(incidents, session, settings_env):
    settings_env(csat_survey_valid_days="3")
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, assignee_id=agent.id, now=T0)
    first = flows.transition(
        session=session,
        incident=incident,
        actor=agent,
        state="resolved",
        resolution_code="solved_permanently",
        resolution_notes="Replaced the fuser",
        now=T0,
    ).survey_invitation
    assert first.survey.expires_at == T0 + timedelta(days=3)
    with pytest.raises(SurveyExpired):
        csat.answer(
            session=session, token=first.token, rating=3, comment=None, now=T0 + timedelta(days=3)
        )

    # Reopened and resolved again: a new survey; the unanswered earlier one closes.
    flows.reopen(
        session=session, incident=incident, actor=agent, reason="Again", now=T0 + timedelta(days=1)
    )
    second = flows.transition(
        session=session,
        incident=incident,
        actor=agent,
        state="resolved",
        now=T0 + timedelta(days=2),
    ).survey_invitation
    assert second.token != first.token
    with pytest.raises(SurveyExpired):
        csat.answer(
            session=session, token=first.token, rating=3, comment=None, now=T0 + timedelta(days=2)
        )
    answered = csat.answer(
        session=session, token=second.token, rating=2, comment="Slow", now=T0 + timedelta(days=2)
    )
    assert (answered.rating, answered.answered_at) == (2, T0 + timedelta(days=2))
    with pytest.raises(SurveyAlreadyAnswered):
        csat.answer(
            session=session, token=second.token, rating=5, comment=None, now=T0 + timedelta(days=2)
        )
    with pytest.raises(NotFound):
        csat.answer(session=session, token="forged", rating=5, comment=None, now=T0)
