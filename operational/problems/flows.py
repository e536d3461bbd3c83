"""Problem flows: what a problem does to incidents, in one transaction.

A link is recorded on both sides: the incident domain points the incident at the problem
(``incidents.links``) and the problem logs it. Waiting, releasing and resolving incidents go
through the incident flows, so that their SLA timers follow.

    router ──> flows ──> problems.service
                     ├─> incidents.links (the incident's side of a link)
                     ├─> incidents.flows (hold, release, resolve: the SLA timers follow)
                     └─> tickets.hooks (what changed, for the automation rules above)
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.errors import DomainError
from operational.incidents import flows as incident_flows
from operational.incidents import links as incident_links
from operational.incidents import service as incidents_service
from operational.incidents.enums import HoldReason, IncidentState
from operational.incidents.models import Incident
from operational.problems import service
from operational.problems.enums import CandidateDimension, ProblemState
from operational.problems.exceptions import ProblemClosed, ProblemNotResolved
from operational.problems.models import Problem
from operational.problems.schemas import BulkResolve, ProblemCreate, ProblemUpdate
from operational.tickets import hooks

RECORD_TYPE = "problem"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _published(
    session: Session,
    problem: Problem,
    before: dict[str, Any] | None,
    now: datetime,
    actor: User | None,
) -> None:
    """Tell the layer above (automation rules) what changed, in this transaction."""
    hooks.publish_change(
        session, record_type=RECORD_TYPE, record=problem, before=before, now=now, actor=actor
    )


def create(
    *, session: Session, data: ProblemCreate, actor: User, now: datetime | None = None
) -> Problem:
    """Open a problem and link the incidents named (one call from a candidate group)."""
    now = _now(now)
    problem = service.create(session=session, data=data, actor=actor, now=now)
    for incident_id in dict.fromkeys(data.incident_ids):
        link_incident(
            session=session, problem=problem, incident_id=incident_id, actor=actor, now=now
        )
    _published(session, problem, None, now, actor)
    return problem


def update(
    *,
    session: Session,
    problem: Problem,
    data: ProblemUpdate,
    expected_version: int,
    actor: User | None,
    now: datetime | None = None,
) -> Problem:
    """Edit the problem's fields (one PATCH, or an automation rule's); rules fire on it."""
    now = _now(now)
    before = hooks.snapshot(problem)
    updated = service.update(
        session=session,
        problem=problem,
        data=data,
        expected_version=expected_version,
        actor=actor,
        now=now,
    )
    _published(session, updated, before, now, actor)
    return updated


def publish_known_error(
    *,
    session: Session,
    problem: Problem,
    expected_version: int,
    actor: User,
    workaround: str | None = None,
    now: datetime | None = None,
) -> Problem:
    now = _now(now)
    before = hooks.snapshot(problem)
    published = service.publish_known_error(
        session=session,
        problem=problem,
        expected_version=expected_version,
        actor=actor,
        workaround=workaround,
        now=now,
    )
    _published(session, published, before, now, actor)
    return published


def retract_known_error(
    *,
    session: Session,
    problem: Problem,
    expected_version: int,
    actor: User,
    now: datetime | None = None,
) -> Problem:
    now = _now(now)
    before = hooks.snapshot(problem)
    retracted = service.retract_known_error(
        session=session, problem=problem, expected_version=expected_version, actor=actor, now=now
    )
    _published(session, retracted, before, now, actor)
    return retracted


def link_incident(
    *,
    session: Session,
    problem: Problem,
    incident_id: int,
    actor: User,
    wait: bool = False,
    now: datetime | None = None,
) -> Incident:
    """Link the incident (moving it off another problem, which logs that), and with ``wait``
    put it on hold awaiting this problem."""
    now = _now(now)
    if problem.state == ProblemState.closed:
        raise ProblemClosed(f"{problem.number} is closed; link the incident to an open problem")
    incident, old_problem_id = incident_links.link_problem(
        session=session,
        incident_id=incident_id,
        problem_id=problem.id,
        problem_number=problem.number,
        number_of=lambda problem_id: service.number_of(session=session, problem_id=problem_id),
        actor=actor,
        now=now,
    )
    if old_problem_id != problem.id:
        if old_problem_id is not None:
            service.note_incident(
                session=session,
                problem=service.get(session=session, problem_id=old_problem_id),
                incident_id=incident.id,
                incident_number=incident.number,
                linked=False,
                actor=actor,
                now=now,
            )
        service.note_incident(
            session=session,
            problem=problem,
            incident_id=incident.id,
            incident_number=incident.number,
            linked=True,
            actor=actor,
            now=now,
        )
    if wait and not incident_links.waits_for_problem(incident, problem.id):
        incident_flows.transition(
            session=session,
            incident=incident,
            actor=actor,
            state=IncidentState.on_hold,
            hold_reason=HoldReason.awaiting_problem,
            reason=f"waiting for {problem.number}",
            now=now,
        )
    return incident


def unlink_incident(
    *,
    session: Session,
    problem: Problem,
    incident_id: int,
    actor: User,
    now: datetime | None = None,
) -> Incident:
    """Unlink the incident; one that waited for the problem goes back to work (in_progress)."""
    now = _now(now)
    incident = incidents_service.get(session=session, incident_id=incident_id)
    if incident_links.waits_for_problem(incident, problem.id):
        incident_flows.transition(
            session=session,
            incident=incident,
            actor=actor,
            state=IncidentState.in_progress,
            reason=f"no longer waiting for {problem.number}",
            now=now,
        )
    incident = incident_links.unlink_problem(
        session=session,
        incident_id=incident_id,
        problem_id=problem.id,
        problem_number=problem.number,
        actor=actor,
        now=now,
    )
    service.note_incident(
        session=session,
        problem=problem,
        incident_id=incident.id,
        incident_number=incident.number,
        linked=False,
        actor=actor,
        now=now,
    )
    return incident


@dataclass
class Moved:
    problem: Problem
    notified: list[Incident] = field(default_factory=list)


def transition(
    *,
    session: Session,
    problem: Problem,
    target: ProblemState | str,
    expected_version: int,
    actor: User,
    reason: str | None = None,
    now: datetime | None = None,
) -> Moved:
    """Move the problem; on resolution the people of every incident waiting for it are
    notified (recorded on each incident until a notifications domain delivers it)."""
    now = _now(now)
    before = hooks.snapshot(problem)
    problem = service.transition(
        session=session,
        problem=problem,
        target=target,
        expected_version=expected_version,
        actor=actor,
        reason=reason,
        now=now,
    )
    moved = Moved(problem)
    if problem.state == ProblemState.resolved:
        for incident in incident_links.waiting_for(session=session, problem_id=problem.id):
            incident_links.note_problem_resolved(
                session=session,
                incident=incident,
                problem_id=problem.id,
                problem_number=problem.number,
                fix_notes=problem.fix_notes,
                actor=actor,
                now=now,
            )
            moved.notified.append(incident)
    _published(session, problem, before, now, actor)
    return moved


@dataclass
class BulkOutcome:
    resolved: list[Incident] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def resolve_incidents(
    *,
    session: Session,
    problem: Problem,
    data: BulkResolve,
    actor: User,
    now: datetime | None = None,
) -> BulkOutcome:
    """Resolve the problem's incidents in one action, each through the incident flows (its
    survey and SLA timers follow). By default those waiting for the problem; an incident that
    cannot be resolved (not linked, closed, no assignee...) is skipped with the reason, and the
    others still are."""
    now = _now(now)
    if (
        problem.state not in (ProblemState.resolved, ProblemState.closed)
        or problem.resolved_at is None
    ):
        raise ProblemNotResolved(
            f"{problem.number} is {problem.state}: resolve the problem first",
            state=problem.state,
        )
    if data.incident_ids is None:
        targets = incident_links.waiting_for(session=session, problem_id=problem.id)
    else:
        found = incident_links.briefs(session=session, incident_ids=list(data.incident_ids))
        targets = [found[i] for i in dict.fromkeys(data.incident_ids) if i in found]
    outcome = BulkOutcome()
    if data.incident_ids is not None:
        known = {incident.id for incident in targets}
        outcome.skipped += [(i, "no such incident") for i in data.incident_ids if i not in known]
    notes = data.resolution_notes or (
        f"Resolved by the fix of {problem.number}: {problem.fix_notes or problem.title}"
    )
    for incident in targets:
        if incident.problem_id != problem.id:
            outcome.skipped.append(
                (incident.id, f"{incident.number} is not linked to {problem.number}")
            )
            continue
        try:
            with session.begin_nested():
                incident_flows.transition(
                    session=session,
                    incident=incident,
                    actor=actor,
                    state=IncidentState.resolved,
                    resolution_code=data.resolution_code,
                    resolution_notes=notes,
                    reason=f"resolved with {problem.number}",
                    now=now,
                )
        except DomainError as error:
            session.refresh(incident)
            outcome.skipped.append((incident.id, error.detail))
            continue
        outcome.resolved.append(incident)
    return outcome


def known_errors_for_incident(*, session: Session, incident: Incident) -> list[Problem]:
    """The known error behind the incident, if its problem is one (a list: empty or one)."""
    problem = service.known_error_of(session=session, problem_id=incident.problem_id)
    return [problem] if problem is not None else []


@dataclass
class Candidate:
    group: incident_links.RecurringGroup
    incidents: list[Incident]


def candidates(
    *,
    session: Session,
    dimensions: list[CandidateDimension],
    days: float,
    min_incidents: int,
    limit: int,
    listed: int = 50,
    now: datetime | None = None,
) -> list[Candidate]:
    """Groups of recent incidents that may share a cause (docs/problems.md, "Candidates"):
    opened in the last ``days``, not cancelled, linked to no problem, sharing a CI, service or
    category, at least ``min_incidents`` of them. Largest first; each lists its ``listed``
    most recent incidents."""
    since = _now(now) - timedelta(days=days)
    groups = [
        group
        for dimension in dimensions
        for group in incident_links.recurring_groups(
            session=session,
            dimension=dimension.value,
            since=since,
            min_incidents=min_incidents,
            limit=limit,
        )
    ]
    groups.sort(
        key=lambda group: (-group.count, -group.last_opened_at.timestamp(), group.dimension)
    )
    groups = groups[:limit]
    wanted = [incident_id for group in groups for incident_id in group.incident_ids[:listed]]
    found = incident_links.briefs(session=session, incident_ids=wanted)
    return [
        Candidate(group, [found[i] for i in group.incident_ids[:listed] if i in found])
        for group in groups
    ]
