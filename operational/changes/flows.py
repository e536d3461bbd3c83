"""Change flows: what a change does to other domains, in one transaction.

A change named as the cause of an incident is recorded on both sides: the incident domain marks
the incident (``incidents.service.mark_caused_by_change``) and the change logs it. Routers call
these flows; the changes service below them never touches another domain's tables.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.changes import cab, notifying, service
from operational.changes.enums import ChangeState
from operational.changes.models import Change
from operational.changes.schemas import ChangeCreate, ChangeUpdate, DecisionCreate, ReviewCreate
from operational.incidents import service as incidents_service
from operational.tickets import hooks

RECORD_TYPE = "change"


def _published(
    session: Session, change: Change, before: dict[str, Any] | None, actor: User | None
) -> None:
    """Tell the layer above (automation rules) what changed, in this transaction."""
    hooks.publish_change(
        session,
        record_type=RECORD_TYPE,
        record=change,
        before=before,
        now=datetime.now(UTC),
        actor=actor,
    )


def create(*, session: Session, data: ChangeCreate, actor: User) -> Change:
    change = service.create(session=session, data=data, actor=actor)
    _published(session, change, None, actor)
    return change


def update(
    *,
    session: Session,
    change: Change,
    data: ChangeUpdate,
    expected_version: int,
    actor: User,
) -> Change:
    """Edit a change's fields (one PATCH, or one record of a bulk update); rules fire on it."""
    before = hooks.snapshot(change)
    updated = service.update(
        session=session,
        change_id=change.id,
        data=data,
        expected_version=expected_version,
        actor=actor,
    )
    _published(session, updated, before, actor)
    return updated


def _link(session: Session, change: Change, incident_id: int, actor: User) -> None:
    incident = incidents_service.mark_caused_by_change(
        session=session,
        incident_id=incident_id,
        change_id=change.id,
        change_number=change.number,
        actor=actor,
    )
    if incident is not None:  # None: linked already, nothing new to log
        service.note_caused_incident(
            session=session,
            change=change,
            incident_id=incident.id,
            incident_number=incident.number,
            actor=actor,
        )


def link_caused_incident(
    *, session: Session, change_id: int, incident_id: int, actor: User
) -> Change:
    """Mark an incident as caused by the change (from implementation on)."""
    change = service.lock_linkable(session=session, change_id=change_id)
    _link(session, change, incident_id, actor)
    session.flush()
    return change


def transition(
    *,
    session: Session,
    change: Change,
    target: ChangeState,
    expected_version: int,
    actor: User,
    reason: str | None = None,
) -> Change:
    """Move a change along its workflow; once scheduled, its stakeholders get the notice."""
    before = change.state
    fields_before = hooks.snapshot(change)
    moved = service.transition(
        session=session,
        change_id=change.id,
        target=target,
        expected_version=expected_version,
        actor=actor,
        reason=reason,
    )
    notifying.scheduled(session=session, change=moved, before=before, actor=actor, now=None)
    _published(session, moved, fields_before, actor)
    return moved


def schedule_over_conflicts(
    *, session: Session, change: Change, expected_version: int, reason: str, actor: User
) -> Change:
    """Schedule over the calendar's conflicts; the stakeholders get the notice."""
    before = change.state
    fields_before = hooks.snapshot(change)
    scheduled = service.schedule_over_conflicts(
        session=session,
        change_id=change.id,
        expected_version=expected_version,
        reason=reason,
        actor=actor,
    )
    notifying.scheduled(session=session, change=scheduled, before=before, actor=actor, now=None)
    _published(session, scheduled, fields_before, actor)
    return scheduled


def decide(*, session: Session, change: Change, data: DecisionCreate, actor: User) -> Change:
    """One CAB member's decision. The decision that settles the round changes the change's
    ``cab_outcome`` (pending → approved or rejected): rules hear that as ``updated``."""
    fields_before = hooks.snapshot(change)
    decided = cab.decide(session=session, change_id=change.id, data=data, actor=actor)
    _published(session, decided, fields_before, actor)
    return decided


def record_review(
    *,
    session: Session,
    change_id: int,
    data: ReviewCreate,
    expected_version: int,
    actor: User,
) -> Change:
    """The post-implementation review, with the incidents the change caused linked first."""
    change = service.lock_reviewable(
        session=session, change_id=change_id, data=data, expected_version=expected_version
    )
    fields_before = hooks.snapshot(change)
    for incident_id in dict.fromkeys(data.incident_ids):
        _link(session, change, incident_id, actor)
    reviewed = service.record_review(session=session, change=change, data=data, actor=actor)
    _published(session, reviewed, fields_before, actor)
    return reviewed
