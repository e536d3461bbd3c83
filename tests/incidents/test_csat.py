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


def test_resolving_opens_a_survey_answered_once_by_token(client, factory, session, incidents):
    agent = incidents.agent()
    requester = factory.user(roles=("requester",))
    agent_headers = factory.auth_headers(agent)
    incident = client.post(
        URL,
        json={"title": "Toner", "requester_id": requester.id, "assignee_id": agent.id},
        headers=agent_headers,
    ).json()
    resolved = _resolve_through_api(client, agent_headers, incident, 1)
    invitation = resolved["csat_invitation"]
    token = invitation["token"]
    assert invitation["url"].endswith(f"/api/v1/csat/{token}")
    # The token is shown once and stored only as its hash.
    again = client.get(f"{URL}/{incident['id']}", headers=agent_headers).json()
    assert again["csat_invitation"] is None
    stored = session.query(CsatSurvey).filter_by(incident_id=incident["id"]).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() != token

    # Public: no credentials needed.
    survey = client.get(f"/api/v1/csat/{token}")
    assert survey.status_code == 200
    assert (survey.json()["incident_number"], survey.json()["is_open"]) == (
        incident["number"],
        True,
    )
    answer = client.post(f"/api/v1/csat/{token}", json={"rating": 4, "comment": "Quick fix"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["rating"], answer.json()["is_open"]) == (4, False)

    second = client.post(f"/api/v1/csat/{token}", json={"rating": 1})
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    requester_headers = factory.auth_headers(requester)
    seen = client.get(f"{URL}/{incident['id']}/csat", headers=requester_headers).json()
    assert (seen["rating"], seen["comment"]) == (4, "Quick fix")

    timeline = client.get(f"{URL}/{incident['id']}/timeline", headers=agent_headers).json()
    answered = [event for event in timeline if event["kind"] == "csat_answered"]
    assert len(answered) == 1
    assert (answered[0]["actor_id"], answered[0]["new_value"]) == (requester.id, "4")
    assert answered[0]["data"]["rating"] == 4


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
