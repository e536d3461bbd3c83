"""What is sent: the flows of incidents, SLA, changes and requests write their messages into
the outbox in the transaction of the change (checked on the outbox rows; delivery itself is
tested with real receivers in test_mail / test_webhooks)."""

from datetime import UTC, datetime

from sqlalchemy import select

from operational.auth.models import TeamMember
from operational.core.surveys import hash_token
from operational.incidents import flows as incident_flows
from operational.incidents.models import CsatSurvey
from operational.incidents.schemas import IncidentUpdate
from operational.notifications.models import OutboxMessage
from operational.sla import service as sla_service
from operational.sla.models import SlaNotification
from operational.sla.schemas import EscalationRuleCreate
from tests.changes.conftest import MONDAY as CHANGE_MONDAY
from tests.requests.conftest import stage


def outbox(session, event_type=None) -> list[OutboxMessage]:
    statement = select(OutboxMessage).order_by(OutboxMessage.id)
    if event_type:
        statement = statement.where(OutboxMessage.event_type == event_type)
    return list(session.scalars(statement))


def test_assignment_tells_the_new_assignee_not_the_one_who_assigned(incidents, session):
    team = incidents.team(name="Network")
    agent = incidents.agent(teams=(team,))
    dispatcher = incidents.agent()
    incident = incidents.incident(actor=dispatcher, title="Switch down")
    assert outbox(session, "incident.assigned") == []
    incident_flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(assignment_group_id=team.id, assignee_id=agent.id),
        actor=dispatcher,
        expected_version=incident.version,
    )
    (message,) = outbox(session, "incident.assigned")
    assert message.recipient_user_id == agent.id
    assert message.ticket_number == incident.number
    assert message.subject == f"{incident.number} assigned to {agent.display_name}: Switch down"


def test_assignment_to_a_team_alone_tells_its_members(incidents, session):
    first, second = incidents.agent(), incidents.agent()
    team = incidents.team(name="Desk")
    for member in (first, second):
        session.add(TeamMember(team_id=team.id, user_id=member.id))
    session.flush()
    session.refresh(team)
    actor = incidents.agent()
    incident = incidents.incident(actor=actor)
    incident_flows.assign(
        session=session, incident=incident, actor=actor, team_id=team.id, auto_pick=False
    )
    assert sorted(m.recipient_user_id for m in outbox(session, "incident.assigned")) == sorted(
        [first.id, second.id]
    )


def test_requester_hears_of_public_comments_resolution_and_waiting(incidents, session):
    requester = incidents.requester()
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, requester_id=requester.id, assignee_id=agent.id)
    incident_flows.add_comment(
        session=session, incident=incident, actor=agent, body="Work note", is_public=False
    )
    incident_flows.add_comment(session=session, incident=incident, actor=agent, body="On it")
    (comment,) = outbox(session, "incident.commented")
    assert comment.recipient_user_id == requester.id
    assert "On it" in comment.body_text

    incident_flows.transition(
        session=session,
        incident=incident,
        actor=agent,
        state="in_progress",
    )
    incident_flows.transition(
        session=session,
        incident=incident,
        actor=agent,
        state="on_hold",
        hold_reason="awaiting_caller",
    )
    (waiting,) = outbox(session, "incident.waiting")
    assert waiting.recipient_user_id == requester.id
    incident_flows.transition(session=session, incident=incident, actor=agent, state="in_progress")
    incident_flows.transition(
        session=session,
        incident=incident,
        actor=agent,
        state="resolved",
        resolution_code="solved_permanently",
        resolution_notes="Replaced the fuser",
    )
    (resolved,) = outbox(session, "incident.resolved")
    assert resolved.recipient_user_id == requester.id
    assert "Replaced the fuser" in resolved.body_text

    # The survey link goes to the requester alone, and it works.
    (invitation,) = outbox(session, "csat.invitation")
    assert invitation.recipient_user_id == requester.id
    token = invitation.body_text.split("/api/v1/csat/")[1].split()[0]
    survey = session.scalars(select(CsatSurvey).where(CsatSurvey.incident_id == incident.id)).one()
    assert survey.token_hash == hash_token(token)
    assert {m.recipient_user_id for m in outbox(session)} == {requester.id}  # agent: nothing


def test_a_requester_who_comments_tells_the_assignee(incidents, session):
    requester = incidents.requester()
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, requester_id=requester.id, assignee_id=agent.id)
    incident_flows.add_comment(session=session, incident=incident, actor=requester, body="Still?")
    (message,) = outbox(session, "incident.commented")
    assert message.recipient_user_id == agent.id


T0 = datetime(2031, 6, 2, 8, 0, tzinfo=UTC)


def test_sla_breaches_and_notify_escalations_go_through_the_outbox(sla, factory, session):
    team = factory.team(name="Leads", email="leads@example.org")
    agent = factory.user(roles=("agent",))
    sla.policy(response=600, resolution=60)
    sla_service.create_rule(
        session=session,
        data=EscalationRuleCreate(
            name="tell leads", threshold=100, action="notify", team_id=team.id
        ),
    )
    incident = sla.incident(opened_at=T0)
    incident.assignee_id = agent.id
    session.flush()
    at_61 = T0.replace(minute=1, hour=9)
    assert incident_flows.process_sla(session=session, incident_id=incident.id, now=at_61) == 1

    (breach,) = outbox(session, "sla.breached")
    assert breach.recipient_user_id == agent.id
    assert breach.subject == f"{incident.number}: resolution SLA breached"
    (escalation,) = outbox(session, "sla.escalation")
    assert escalation.recipient_address == "leads@example.org"
    (notification,) = session.scalars(select(SlaNotification)).all()
    assert escalation.subject == notification.subject
    assert notification.delivered_at == at_61
    # A later scan hands nothing over twice.
    incident_flows.process_sla(session=session, incident_id=incident.id, now=at_61.replace(hour=10))
    assert len(outbox(session, "sla.escalation")) == 1


def test_a_scheduled_change_sends_its_notice_to_the_stakeholders(changes, factory, session):
    from operational.changes import flows as change_flows

    requester = changes.agent(display_name="Rita Requester")
    implementer = changes.agent(display_name="Ivan Implementer")
    api = changes.ci("shop-api")
    change = changes.change(
        actor=requester, cis=[api], start=CHANGE_MONDAY, implementer_id=implementer.id
    )
    change = changes.approved(change)
    assert outbox(session, "change.notice") == []
    scheduler = changes.agent()
    change = change_flows.transition(
        session=session,
        change=change,
        target="scheduled",
        expected_version=change.version,
        actor=scheduler,
    )
    notices = outbox(session, "change.notice")
    assert {m.recipient_user_id for m in notices} == {requester.id, implementer.id}
    assert notices[0].subject == f"{change.number}: planned change Patch the web servers"
    assert "Impact:" in notices[0].body_text
    assert "shop-api" in notices[0].body_text


def test_approvers_are_asked_and_reminded(kit, session):
    from operational.requests import flows as request_flows

    item = kit.order(
        kit.item(approval_policy={"stages": [stage("Manager", "manager", reminder_minutes=60)]})
    )
    (asked,) = outbox(session, "approval.requested")
    assert asked.recipient_user_id == kit.boss.id
    assert asked.ticket_number == item.number
    approval = kit.pending(item)[kit.boss.id]
    later = approval.requested_at.replace(year=approval.requested_at.year + 1)
    request_flows.chase_approval(session=session, approval_id=approval.id, now=later)
    (reminder,) = outbox(session, "approval.reminder")
    assert reminder.recipient_user_id == kit.boss.id
    assert reminder.subject == f"Reminder: {item.number} waits for your approval"
