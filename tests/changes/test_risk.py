"""Risk: questionnaire + criticality and breadth of the impact set, stored with its reasons."""

import pytest

from operational.changes import risk, service
from operational.changes.schemas import ChangeUpdate
from operational.events import service as events


@pytest.fixture
def orders(changes):
    """orders-api and reporting depend_on orders-db; orders-web depends_on orders-api and is
    part_of the critical Online orders business service."""
    cis = {
        "db": changes.ci("orders-db", ci_class="database", criticality=3),
        "api": changes.ci("orders-api", criticality=3),
        "web": changes.ci("orders-web", criticality=4),
        "reporting": changes.ci("reporting", criticality=4),
        "service": changes.ci("Online orders", ci_class="business_service", criticality=1),
    }
    relate = changes.cmdb.relate
    relate(cis["api"], "depends_on", cis["db"])
    relate(cis["reporting"], "depends_on", cis["db"])
    relate(cis["web"], "depends_on", cis["api"])
    relate(cis["web"], "part_of", cis["service"])
    return cis


ANSWERS = {"done_before": False, "backout_tested": True, "service_outage": True}


def test_risk_is_scored_by_hand_computable_parts(changes, client, headers_for, orders):
    change = changes.change(cis=[orders["db"]], risk_answers=ANSWERS)
    # Questionnaire: not done before 10 + outage 15 + untested outside production
    # (unanswered) 10 = 35. Most critical in the impact set: Online orders, critical: 25.
    # Four CIs rely on orders-db (api, reporting, web, Online orders): 1-9 → 5. Total 65.
    assert (change.risk_score, change.risk_level) == (65, "high")

    body = client.get(f"/api/v1/changes/{change.id}", headers=headers_for("agent")).json()
    explanation = body["risk_explanation"]
    assert [
        (factor.get("key") or factor["factor"], factor["points"])
        for factor in explanation["factors"]
    ] == [
        ("done_before", 10),
        ("backout_tested", 0),
        ("service_outage", 15),
        ("tested_outside_production", 10),
        ("criticality", 25),
        ("impact_breadth", 5),
    ]
    criticality = explanation["factors"][4]
    assert (criticality["ci"], criticality["criticality"]) == ("Online orders", 1)
    assert explanation["factors"][5]["impacted"] == 4
    assert explanation["factors"][3]["detail"] == "unanswered: counted as risky"
    assert explanation["summary"] == (
        "done_before 10 + backout_tested 0 + service_outage 15 + tested_outside_production 10"
        " + criticality 25 + impact_breadth 5 = 65 (high)"
    )


def test_risk_follows_the_affected_cis_and_the_change_is_logged(changes, orders, session):
    agent = changes.agent()
    change = changes.change(actor=agent, cis=[orders["db"]], risk_answers=ANSWERS)
    change = service.update(
        session=session,
        change_id=change.id,
        data=ChangeUpdate(ci_ids=[orders["reporting"].id]),
        expected_version=change.version,
        actor=agent,
    )
    # 35 from the questionnaire; reporting is low criticality with nothing relying on it.
    assert (change.risk_score, change.risk_level) == (35, "moderate")
    rescored = [
        (event.old_value, event.new_value)
        for event in events.list_for(session=session, entity_type="change", entity_id=change.id)
        if event.field == "risk_score"
    ]
    assert rescored == [("65", "35")]


def test_a_change_without_cis_scores_the_questionnaire_only(changes):
    change = changes.change(
        risk_answers={
            "done_before": True,
            "backout_tested": True,
            "service_outage": False,
            "tested_outside_production": True,
        }
    )
    assert (change.risk_score, change.risk_level) == (0, "low")


def test_unknown_questions_are_refused(client, headers_for):
    response = client.post(
        "/api/v1/changes",
        headers=headers_for("agent"),
        json={"change_type": "normal", "title": "x", "risk_answers": {"feels_lucky": True}},
    )
    assert response.status_code == 422


def test_questions_are_published(client, headers_for):
    questions = client.get("/api/v1/changes/risk-questions", headers=headers_for("agent")).json()
    assert [(item["key"], item["risky_answer"], item["points"]) for item in questions] == [
        ("done_before", False, 10),
        ("backout_tested", False, 15),
        ("service_outage", True, 15),
        ("tested_outside_production", False, 10),
    ]


@pytest.mark.parametrize(
    ("impacted", "points"), [(0, 0), (1, 5), (9, 5), (10, 15), (49, 15), (50, 25), (900, 25)]
)
def test_breadth_points(impacted, points):
    assert risk.breadth_points(impacted) == points


@pytest.mark.parametrize(
    ("score", "level"),
    [(0, "low"), (24, "low"), (25, "moderate"), (49, "moderate"), (50, "high"), (75, "very_high")],
)
def test_levels(score, level):
    assert risk.level_for(score) == level


def test_the_most_critical_affected_ci_wins_a_tie():
    affected = [risk.RatedCI(1, "a", 2)]
    impacted = [risk.RatedCI(2, "b", 2)]
    assessment = risk.assess(answers={}, affected=affected, impacted=impacted, impact_depth=5)
    # 50 (questionnaire, all unanswered) + 15 (high) + 5 (one impacted) = 70.
    assert (assessment.score, assessment.level) == (70, "high")
    assert assessment.explanation["factors"][4]["ci"] == "a"
