"""An incident as it was at any past instant (docs/incidents.md, "As of an instant").

A replay of the incident's event log up to the instant: the SLA engine replays state, hold
reason, priority and the timers (``operational.sla.timers.timers_as_of``, with the policy and
calendar versions in force then); this module adds who had it then (team and assignee), from the
same log. Nothing is written, and nothing is read from the incident's current columns but what
the log does not tell (a field no event ever changed has had its current value all along).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.core.errors import UnprocessableEntity
from operational.events import service as events_service
from operational.events.enums import EntityType, EventKind
from operational.incidents.models import Incident
from operational.sla import timeline
from operational.sla import timers as sla_timers
from operational.sla.enums import TimerState

TEAM_FIELD = "assignment_group"
ASSIGNEE_FIELD = "assignee"


@dataclass(frozen=True)
class Holder:
    """Who held the incident (a team or a person): the id when the log knows it (native
    events carry it; imports name only the label) and the name or display name."""

    id: int | None
    label: str | None


@dataclass(frozen=True)
class PastTimer:
    """One SLA timer as it stood at the instant."""

    outcome: timeline.TimerOutcome

    @property
    def breached(self) -> bool:
        outcome = self.outcome
        return outcome.state != TimerState.error and (
            outcome.elapsed_minutes > outcome.target_minutes
        )

    @property
    def remaining_minutes(self) -> float | None:
        """Business minutes left before the target (0 once breached; none for an error)."""
        if self.outcome.state == TimerState.error:
            return None
        return max(0.0, self.outcome.target_minutes - self.outcome.elapsed_minutes)


@dataclass(frozen=True)
class IncidentAsOf:
    incident: Incident
    at: datetime
    state: str
    hold_reason: str | None
    priority: int | None
    team: Holder
    assignee: Holder
    timers: list[PastTimer]


def _aware(at: datetime) -> datetime:
    """A time without a zone is UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def check_instant(*, incident: Incident, at: datetime, now: datetime | None = None) -> datetime:
    """``at`` as an aware time, or UnprocessableEntity (422) when it lies before the incident
    was opened (it had no state then) or after ``now`` (the future is not known)."""
    at = _aware(at)
    now = now or datetime.now(UTC)
    if at > now:
        raise UnprocessableEntity(
            f"{at.isoformat()} lies in the future; ask for an instant up to now",
            field="at",
            now=now.isoformat(),
        )
    if at < incident.opened_at:
        raise UnprocessableEntity(
            f"{incident.number} was opened at {incident.opened_at.isoformat()}; "
            "it had no state before that",
            field="at",
            opened_at=incident.opened_at.isoformat(),
        )
    return at


def _holders(incident: Incident, events: Sequence[Any], at: datetime) -> tuple[Holder, Holder]:
    """Team and assignee at ``at``. An event counts at the time the SLA replay gives it: never
    before the incident was opened, nor before the event logged before it."""
    current = {
        TEAM_FIELD: Holder(
            incident.assignment_group_id,
            incident.assignment_group.name if incident.assignment_group else None,
        ),
        ASSIGNEE_FIELD: Holder(
            incident.assignee_id,
            incident.assignee.display_name if incident.assignee else None,
        ),
    }
    initial: dict[str, Holder] = {}
    found: dict[str, Holder] = {}
    effective = incident.opened_at
    for event in events:
        effective = max(effective, event.occurred_at)
        if event.kind != EventKind.assigned or event.field not in current:
            continue
        data = event.data or {}
        if event.field not in initial:
            initial[event.field] = Holder(data.get("old_id"), event.old_value)
        if effective <= at:
            found[event.field] = Holder(data.get("new_id"), event.new_value)
    held = {name: found.get(name, initial.get(name, value)) for name, value in current.items()}
    return held[TEAM_FIELD], held[ASSIGNEE_FIELD]


def as_of(
    *, session: Session, incident: Incident, at: datetime, now: datetime | None = None
) -> IncidentAsOf:
    """The incident as it was at ``at``: state, hold reason, priority, team, assignee and SLA
    timers (elapsed, paused, remaining, breached), replayed from its event log up to ``at``
    with the SLA policies and calendars in force then. ``at`` without a zone is UTC; before
    the incident was opened or in the future it is UnprocessableEntity."""
    at = check_instant(incident=incident, at=at, now=now)
    events = events_service.list_for(
        session=session, entity_type=EntityType.incident, entity_id=incident.id
    )
    past = sla_timers.timers_as_of(session=session, incident=incident, at=at, events=events)
    team, assignee = _holders(incident, events, at)
    return IncidentAsOf(
        incident=incident,
        at=at,
        state=past.attributes.state,
        hold_reason=past.attributes.hold_reason,
        priority=past.attributes.priority,
        team=team,
        assignee=assignee,
        timers=[PastTimer(outcome) for outcome in past.timers],
    )
