"""Escalation rules run by the worker's unit of work: each fires once per timer."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from operational.events.models import Event
from operational.incidents import flows as incident_flows
from operational.sla import service as sla_service
from operational.sla import timers as sla_timers
from operational.sla.models import SlaAlert, SlaEscalation, SlaNotification
from operational.sla.schemas import EscalationRuleCreate

# In the future on purpose: the incident service recomputes timers at the wall clock, and the
# replay never computes earlier than the last event (docs/sla.md), so these tests stay exact.
T0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0.replace(hour=8 + minutes // 60, minute=minutes % 60)


def rule(session, **fields):
    fields.setdefault("name", f"rule {fields['action']} {fields['threshold']}")
    return sla_service.create_rule(session=session, data=EscalationRuleCreate(**fields))


def count(session, model, **where) -> int:
    statement = select(func.count()).select_from(model)
    for key, value in where.items():
        statement = statement.where(getattr(model, key) == value)
    return session.scalar(statement)


def escalated_events(session, incident) -> list[Event]:
    return list(
        session.scalars(
            select(Event).where(
                Event.entity_id == incident.id,
                Event.entity_type == "incident",
                Event.kind == "escalated",
            )
        )
    )


def test_a_breach_notifies_once(sla, factory):
    team = factory.team(name="Service desk leads")
    sla.policy(response=600, resolution=60)
    breach_rule = rule(sla.session, threshold=100, action="notify", team_id=team.id)
    incident = sla.incident(opened_at=T0)

    # Before the breach nothing fires.
    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(50)) == 0
    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(61)) == 1
    for minute in (62, 90):  # later scans find nothing new
        assert (
            incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(minute))
            == 0
        )

    [escalation] = sla.session.scalars(select(SlaEscalation)).all()
    assert (escalation.rule_id, escalation.action, escalation.outcome) == (
        breach_rule.id,
        "notify",
        "done",
    )
    [notification] = sla.session.scalars(
        select(SlaNotification).where(SlaNotification.incident_id == incident.id)
    ).all()
    assert notification.recipient_team_id == team.id
    assert notification.subject == f"{incident.number}: resolution SLA breached"
    assert notification.delivered_at == at(61)  # handed to the notifications outbox
    [event] = escalated_events(sla.session, incident)
    assert (event.field, event.new_value, event.occurred_at) == ("resolution", "notify", at(61))
    assert len(sla.sla_events(incident, "sla_breached")) == 1
    assert count(sla.session, SlaAlert, incident_id=incident.id, escalated_at=None) == 0


def test_rules_filter_by_threshold_target_and_priority(sla, factory):
    team = factory.team()
    sla.policy(response=100, resolution=100)
    warn_resolution = rule(
        sla.session, threshold=80, target="resolution", action="notify", team_id=team.id
    )
    rule(sla.session, threshold=50, priority=1, action="notify", team_id=team.id)  # P1 only
    incident = sla.incident(opened_at=T0, priority=3)

    # At 85 minutes both timers crossed only 75 %: the 80 % rule waits for an alert at or above
    # 80 %, the 90 % warning, and only on the resolution timer; the P1 rule never applies.
    incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(85))
    assert count(sla.session, SlaEscalation) == 0
    incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(95))
    [escalation] = sla.session.scalars(select(SlaEscalation)).all()
    assert escalation.rule_id == warn_resolution.id
    assert escalation.detail["threshold"] == 90


def test_alerts_of_finished_timers_do_not_escalate(sla, factory):
    team = factory.team()
    sla.policy(response=30, resolution=600)
    rule(sla.session, threshold=100, action="notify", team_id=team.id)
    incident = sla.incident(opened_at=T0)
    # Acknowledged late (response breached at 08:30) before any scan saw it.
    sla.move(incident, at(40), "in_progress", first_response=True)
    sla.recompute(incident, now=at(40))
    assert len(sla.sla_events(incident, "sla_breached")) == 1
    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(41)) == 0
    assert count(sla.session, SlaAlert, incident_id=incident.id, escalated_at=None) == 0


def test_reassign_moves_the_incident_to_the_team_once(sla, factory):
    second_line = factory.team(name="Second line")
    sla.policy(response=600, resolution=60)
    rule(sla.session, threshold=75, action="reassign", team_id=second_line.id)
    incident = sla.incident(opened_at=T0)

    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(50)) == 1
    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(70)) == 0
    sla.session.refresh(incident)
    assert incident.assignment_group_id == second_line.id
    [escalation] = sla.session.scalars(select(SlaEscalation)).all()
    assert (escalation.outcome, escalation.detail["team_id"]) == ("done", second_line.id)
    assignments = sla.session.scalars(
        select(Event).where(
            Event.entity_id == incident.id,
            Event.kind == "assigned",
            Event.field == "assignment_group",
        )
    ).all()
    assert [(e.new_value, e.data["escalation_rule_id"]) for e in assignments] == [
        ("Second line", escalation.rule_id)
    ]


def test_raise_priority_fires_once_although_the_new_target_is_breached_too(sla):
    calendar = sla.calendar()
    sla.policy(calendar=calendar, priority=3, response=600, resolution=60)
    sla.policy(calendar=calendar, priority=2, response=600, resolution=30)
    raise_rule = rule(sla.session, threshold=100, target="resolution", action="raise_priority")
    incident = sla.incident(opened_at=T0, priority=3)

    fired = incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(61))
    assert fired == 1
    sla.session.refresh(incident)
    # P3 -> P2, not on to P1: the P2 target (30 min) is breached at once, but the rule has
    # already fired for this timer.
    assert incident.priority == 2
    [change] = sla.session.scalars(
        select(Event).where(Event.entity_id == incident.id, Event.kind == "priority_changed")
    ).all()
    assert change.data["reason"].startswith(f"SLA escalation rule {raise_rule.name!r}")
    timers = {
        t.target: t for t in sla_timers.timers_for(session=sla.session, incident_id=incident.id)
    }
    assert (timers["resolution"].target_minutes, timers["resolution"].state) == (30, "breached")
    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(90)) == 0
    assert count(sla.session, SlaEscalation) == 1


def test_a_refused_action_is_recorded_as_failed_and_not_retried(sla, factory):
    team = factory.team()
    sla.policy(response=600, resolution=60)
    rule(sla.session, threshold=100, action="reassign", team_id=team.id)
    incident = sla.incident(opened_at=T0)
    team.is_active = False  # the incident service refuses inactive teams
    sla.session.flush()

    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(61)) == 1
    [escalation] = sla.session.scalars(select(SlaEscalation)).all()
    assert escalation.outcome == "failed"
    assert "inactive" in escalation.detail["error"]
    sla.session.refresh(incident)
    assert incident.assignment_group_id is None
    assert incident_flows.process_sla(session=sla.session, incident_id=incident.id, now=at(62)) == 0
