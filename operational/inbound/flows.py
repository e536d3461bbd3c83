"""Inbound webhook events → incidents: a firing alert opens one incident per alert key (and
notes repeats on it while it is open); a resolved alert adds a work note or resolves it, per the
source's ``resolved_action``. Each event is recorded once by its event id; each is worked in its
own savepoint, so that one the incident domain refuses is recorded as refused without undoing
the others.

    router ──> flows ──> inbound.service, inbound.payloads
                     └─> incidents.flows (create, add_comment, transition)
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from operational.core.errors import DomainError
from operational.inbound import payloads, service
from operational.inbound.enums import AlertStatus, InboundChannel, Outcome, ResolvedAction
from operational.inbound.models import InboundSource
from operational.inbound.payloads import AlertEvent
from operational.inbound.schemas import EventResult, WebhookResult
from operational.incidents import flows as incident_flows
from operational.incidents import workflow
from operational.incidents.enums import OPEN_STATES, Channel, IncidentState, ResolutionCode
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate


@dataclass
class _Done:
    outcome: Outcome
    incident: Incident | None = None
    reason: str | None = None


def receive_webhook(
    *,
    session: Session,
    source: InboundSource,
    body: bytes,
    headers: dict[str, str],
    now: datetime | None = None,
) -> WebhookResult:
    """Verify the body's signature (401), map it (422), and act on each event not seen before."""
    now = now or datetime.now(UTC)
    service.verify_signature(source=source, body=body, headers=headers)
    events = payloads.events_from(source.kind, body, headers)
    results: list[EventResult] = []
    duplicates = 0
    for event in events:
        message = service.record_message(
            session=session,
            channel=InboundChannel.webhook,
            source=source.name,
            external_id=event.event_id,
            subject=event.title,
            size_bytes=len(body),
            now=now,
        )
        if message is None:
            duplicates += 1
            results.append(EventResult(event_id=event.event_id, outcome="duplicate"))
            continue
        try:
            with session.begin_nested():
                done = _act(session, source, event, now)
        except DomainError as exc:
            done = _Done(Outcome.refused, reason=exc.detail)
        except ValidationError as exc:  # a value the incident's own schema refuses
            done = _Done(Outcome.refused, reason=f"Not a valid incident: {exc.errors()[0]['msg']}")
        service.settle(
            session=session,
            message=message,
            outcome=done.outcome,
            reason=done.reason,
            incident_id=done.incident.id if done.incident else None,
        )
        results.append(
            EventResult(
                event_id=event.event_id,
                outcome=done.outcome.value,
                incident_number=done.incident.number if done.incident else None,
                reason=done.reason,
            )
        )
    return WebhookResult(received=len(events), duplicates=duplicates, events=results)


def _act(session: Session, source: InboundSource, event: AlertEvent, now: datetime) -> _Done:
    actor = service.source_user(session=session, source=source)
    link = service.alert_for_update(session=session, source_id=source.id, alert_key=event.alert_key)
    incident = None
    if link is not None and link.incident_id is not None:
        incident = session.get(Incident, link.incident_id)
    if event.status == AlertStatus.firing:
        if incident is not None and incident.state in OPEN_STATES:
            incident_flows.add_comment(
                session=session,
                incident=incident,
                actor=actor,
                body=f"Alert firing again ({source.name}): {event.title}",
                is_public=False,
                now=now,
            )
            service.link_alert(
                session=session,
                source_id=source.id,
                alert_key=event.alert_key,
                incident_id=incident.id,
                status=AlertStatus.firing,
                now=now,
            )
            return _Done(Outcome.commented, incident)
        outcome = incident_flows.create(
            session=session,
            data=IncidentCreate(
                title=event.title,
                description=event.description,
                impact=event.impact,
                urgency=event.urgency,
                service=event.service,
                configuration_item=event.configuration_item,
                assignment_group_id=source.assignment_group_id,
            ),
            actor=actor,
            now=now,
            channel=Channel.monitoring,
        )
        service.link_alert(
            session=session,
            source_id=source.id,
            alert_key=event.alert_key,
            incident_id=outcome.incident.id,
            status=AlertStatus.firing,
            now=now,
        )
        return _Done(Outcome.created, outcome.incident)

    # resolved
    if incident is None:
        return _Done(Outcome.ignored, reason="No incident is open for this alert")
    service.link_alert(
        session=session,
        source_id=source.id,
        alert_key=event.alert_key,
        incident_id=incident.id,
        status=AlertStatus.resolved,
        now=now,
    )
    if incident.state not in OPEN_STATES:
        return _Done(Outcome.ignored, incident, reason=f"The incident is {incident.state} already")
    note = f"Alert resolved at the source ({source.name}): {event.title}"
    if source.resolved_action == ResolvedAction.resolve and workflow.is_allowed(
        incident.state, IncidentState.resolved
    ):
        incident_flows.transition(
            session=session,
            incident=incident,
            actor=actor,
            state=IncidentState.resolved.value,
            resolution_code=ResolutionCode.solved_remotely.value,
            resolution_notes=note,
            now=now,
        )
        return _Done(Outcome.resolved, incident)
    reason = None
    if source.resolved_action == ResolvedAction.resolve:
        reason = f"An incident in state {incident.state} cannot be resolved; noted instead"
        note += f" (not resolved automatically: it is {incident.state})"
    incident_flows.add_comment(
        session=session, incident=incident, actor=actor, body=note, is_public=False, now=now
    )
    return _Done(Outcome.commented, incident, reason=reason)
