"""SLA timers: one replay of a ticket's event log computes them, live and for imported history.

``recompute_timers`` runs after every change to an incident (the incident flows call it, in the
same transaction, with the incident row locked) and in the worker's scan; ``backfill`` runs the
same replay set-wise over imported incidents. The SLA engine knows incidents only as the records
it is handed (``TimedRecord``) and their event log: it never imports the incident domain.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import exists, select, tuple_, union
from sqlalchemy.orm import Session, joinedload, lazyload
from sqlalchemy.sql.elements import ColumnElement

from operational.core import json_sql
from operational.core.db import insert_rows
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events_service
from operational.events.enums import EntityType, EventKind
from operational.sla import timeline
from operational.sla.enums import RecordType, TimerState, TimerTarget
from operational.sla.models import SlaAlert, SlaPolicy, SlaTimer
from operational.sla.schemas import SlaTimerRead
from operational.sla.service import active_policy_rules, policy_rules_at

SLA_ACTOR_LABEL = "sla"
_SLA_WARNING = EventKind.sla_warning.value
_ESCALATED = EventKind.escalated.value


class TimedRecord(Protocol):
    """What the replay reads of an incident besides its log (an ORM object or a row)."""

    id: int
    state: str
    opened_at: datetime
    requester_id: int | None
    hold_reason: str | None
    priority: int
    service: str | None
    category: str | None


# ---------------------------------------------------------------------------------------------
# Reading


def _by_target_order(timers: Iterable[SlaTimer]) -> list[SlaTimer]:
    order = {target.value: index for index, target in enumerate(TimerTarget)}
    return sorted(timers, key=lambda timer: order[timer.target])


def timers_for(*, session: Session, incident_id: int) -> list[SlaTimer]:
    """The incident's timers (response first), as last recomputed."""
    return timers_for_incidents(session=session, incident_ids=[incident_id]).get(incident_id, [])


def timers_for_incidents(
    *, session: Session, incident_ids: Iterable[int]
) -> dict[int, list[SlaTimer]]:
    """Timers of many incidents in one query (for incident lists)."""
    ids = list(incident_ids)
    found: dict[int, list[SlaTimer]] = defaultdict(list)
    if not ids:
        return found
    rows = session.scalars(
        select(SlaTimer)
        .where(SlaTimer.incident_id.in_(ids))
        # The policy's name is shown; its calendar (and its JSON) only loads if asked for.
        .options(joinedload(SlaTimer.policy).options(lazyload(SlaPolicy.calendar)))
        .execution_options(populate_existing=True)
    ).unique()
    for timer in rows:
        found[timer.incident_id].append(timer)
    return {incident_id: _by_target_order(timers) for incident_id, timers in found.items()}


def timers_json_sql(incident_ids: str) -> str:
    """SQL of a subquery (``key``: the incident's id, ``json``: its timers as the JSON array of
    ``SlaTimerRead`` that incident responses show, response first) for the incidents whose ids
    ``incident_ids`` selects (a SELECT); incidents without timers have no row."""
    timers, policies = SlaTimer.__table__, SlaPolicy.__table__
    sources: dict[str, json_sql.Source] = {
        name: f"sla_timer.{name}" for name in SlaTimerRead.model_fields if name in timers.c
    }
    sources["policy_name"] = "sla_policy.name"
    return json_sql.arrays_by_key_sql(
        json_sql.object_sql(SlaTimerRead, sources),
        key="sla_timer.incident_id",
        rows=f"from {timers.fullname} as sla_timer join {policies.fullname} as sla_policy"
        f" on sla_policy.id = sla_timer.policy_id where sla_timer.incident_id in ({incident_ids})",
        order_by=json_sql.enum_position(TimerTarget, "sla_timer.target"),
    )


def has_timer_in_state(incident_id: ColumnElement[Any], states: Iterable[str]) -> Any:
    """A WHERE condition for incident lists: the incident whose id is ``incident_id`` (the
    list's correlated column) has a timer in one of ``states``."""
    return exists().where(SlaTimer.incident_id == incident_id, SlaTimer.state.in_(list(states)))


def list_timers(
    *,
    session: Session,
    params: PageParams,
    incident_id: int | None = None,
    state: TimerState | None = None,
    target: TimerTarget | None = None,
) -> Page[Any]:
    statement = select(SlaTimer)
    if incident_id is not None:
        statement = statement.where(SlaTimer.incident_id == incident_id)
    if state is not None:
        statement = statement.where(SlaTimer.state == state)
    if target is not None:
        statement = statement.where(SlaTimer.target == target)
    return paginate(
        session,
        statement,
        params,
        sortable={
            "id": SlaTimer.id,
            "due_at": SlaTimer.due_at,
            "started_at": SlaTimer.started_at,
            "elapsed_minutes": SlaTimer.elapsed_minutes,
            "state": SlaTimer.state,
        },
        default_sort=[SlaTimer.id],
    )


# ---------------------------------------------------------------------------------------------
# Recompute and backfill (one code path)


@dataclass
class _Subject:
    """One incident and its log, as the recompute needs them."""

    incident_id: int
    state: str
    opened_at: datetime
    requester_id: int | None
    current: timeline.Attributes
    history: list[timeline.HistoryEvent]
    logged: set[tuple[str, str | None, datetime, int | None]]


def _logged(events: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """ORM events (or rows with these names) as the tuples ``_subject`` reads."""
    for event in events:
        yield (
            event.occurred_at,
            event.kind,
            event.field,
            event.old_value,
            event.new_value,
            event.actor_id,
            event.data,
            event.source_system,
        )


def _subject(incident: Any, events: Iterable[tuple[Any, ...]]) -> _Subject:
    """From an incident (row or ORM object) and its events in seq order, each a tuple in
    ``timeline.HistoryEvent``'s field order (``_logged`` makes them of ORM events)."""
    history: list[timeline.HistoryEvent] = []
    logged: set[tuple[str, str | None, datetime, int | None]] = set()
    # Positional: this runs once per imported event (a row's attributes cost eight times more).
    as_history = timeline.HistoryEvent._make
    for event in events:
        kind = event[1]
        if kind.startswith("sla_"):
            threshold = int(event[4]) if kind == _SLA_WARNING else None
            logged.add((kind, event[2], event[0], threshold))
        elif kind != _ESCALATED:
            history.append(as_history(event))
    return _Subject(
        incident_id=incident.id,
        state=incident.state,
        opened_at=incident.opened_at,
        requester_id=incident.requester_id,
        current=timeline.Attributes(
            state=incident.state,
            hold_reason=incident.hold_reason,
            priority=incident.priority,
            service=incident.service,
            category=incident.category,
        ),
        history=history,
        logged=logged,
    )


@dataclass(frozen=True)
class _StoredTimer:
    state: str
    completed_at: datetime | None


def _is_frozen(stored: _StoredTimer | None, outcome: timeline.TimerOutcome) -> bool:
    """A finished timer whose result the replay confirms is never rewritten (policy edits made
    since do not change settled verdicts), nor is a finished one that a calendar broken since
    cannot recompute. A breached timer still running is not finished."""
    if stored is None or stored.completed_at is None:
        return False
    if outcome.state == TimerState.error:
        return stored.state != TimerState.error
    return stored.state == outcome.state and stored.completed_at == outcome.completed_at


def _recompute(
    session: Session,
    subjects: Sequence[_Subject],
    *,
    policies: Sequence[timeline.PolicyRules],
    now: datetime,
    escalate: bool,
    synthesized: bool,
) -> None:
    """Replay each subject, upsert its timers, record crossings and append missing SLA events."""
    if not subjects:
        return
    stored: dict[tuple[int, str], _StoredTimer] = {
        (row.incident_id, row.target): _StoredTimer(row.state, row.completed_at)
        for row in session.execute(
            select(
                SlaTimer.incident_id, SlaTimer.target, SlaTimer.state, SlaTimer.completed_at
            ).where(SlaTimer.incident_id.in_([subject.incident_id for subject in subjects]))
        )
    }
    timer_rows: list[dict[str, Any]] = []
    computed_at = now.isoformat()
    crossings: list[tuple[int, str, timeline.Crossing]] = []
    event_rows: list[dict[str, Any]] = []
    unmatched: list[tuple[int, str]] = []  # stored timers no active policy applies to any more
    for subject in subjects:
        targets = [stored.get((subject.incident_id, target.value)) for target in TimerTarget]
        if subject.state in ("closed", "cancelled") and all(
            timer is not None and timer.completed_at is not None for timer in targets
        ):
            continue  # settled for good: nothing can change
        points = timeline.change_points(
            opened_at=subject.opened_at,
            requester_id=subject.requester_id,
            current=subject.current,
            events=subject.history,
        )
        outcomes = timeline.replay(points=points, policies=policies, now=now)
        produced = {outcome.target.value for outcome in outcomes}
        unmatched.extend(
            (subject.incident_id, target.value)
            for target, timer in zip(TimerTarget, targets, strict=True)
            if timer is not None and target.value not in produced
        )
        pending: list[timeline.Transition] = []
        for outcome in outcomes:
            if _is_frozen(stored.get((subject.incident_id, outcome.target.value)), outcome):
                continue
            timer_rows.append(_timer_row(subject.incident_id, outcome, computed_at))
            crossings.extend(
                (subject.incident_id, outcome.target.value, crossing)
                for crossing in outcome.crossings
            )
            pending.extend(t for t in outcome.transitions if t.identity not in subject.logged)
        pending.sort(key=lambda transition: transition.sort_key)
        for transition in pending:
            event_rows.append(_transition_event(subject.incident_id, transition, synthesized))
    if unmatched:
        # Keep their last numbers, but stop the worker from scanning them.
        session.execute(
            SlaTimer.__table__.update()
            .where(tuple_(SlaTimer.incident_id, SlaTimer.target).in_(unmatched))
            .values(next_alert_at=None)
        )
    if not timer_rows:
        return
    timer_ids = {
        (row.incident_id, row.target): row.id
        for row in insert_rows(
            session,
            SlaTimer.__table__,
            timer_rows,
            suffix="on conflict (incident_id, target) do update set "
            + ", ".join(
                f"{column} = excluded.{column}"
                for column in timer_rows[0]
                if column not in ("incident_id", "target")
            ),
            returning=("id", "incident_id", "target"),
        )
    }
    if crossings:
        insert_rows(
            session,
            SlaAlert.__table__,
            [
                {
                    "timer_id": timer_ids[(incident_id, target)],
                    "record_type": RecordType.incident.value,
                    "record_id": incident_id,
                    "target_minutes": crossing.target_minutes,
                    "threshold": crossing.threshold,
                    "occurred_at": crossing.at,
                    # History is recorded, not escalated: nobody is chased over old tickets.
                    "escalated_at": None if escalate else now,
                }
                for incident_id, target, crossing in crossings
            ],
            suffix="on conflict (timer_id, target_minutes, threshold) do nothing",
        )
    events_service.append_many(session=session, events=event_rows)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _timer_row(incident_id: int, outcome: timeline.TimerOutcome, now: str) -> dict[str, Any]:
    """The row ``insert_rows`` writes, times as ISO text already (``now`` too): its JSON
    encoder would call back into Python for each of them."""
    return {
        "incident_id": incident_id,
        "target": outcome.target.value,
        "policy_id": outcome.policy.id,
        "target_minutes": outcome.target_minutes,
        "started_at": _iso(outcome.started_at),
        "due_at": _iso(outcome.due_at),
        "elapsed_minutes": outcome.elapsed_minutes,
        "paused_minutes": outcome.paused_minutes,
        "state": outcome.state.value,
        "completed_at": _iso(outcome.completed_at),
        "breached_at": _iso(outcome.breached_at),
        "warnings_fired": outcome.warnings_fired,
        "next_alert_at": _iso(outcome.next_alert_at),
        "computed_at": now,
        "error": outcome.error,
    }


def _transition_event(
    incident_id: int, transition: timeline.Transition, synthesized: bool
) -> dict[str, Any]:
    return {
        "entity_type": EntityType.incident,
        "entity_id": incident_id,
        "occurred_at": transition.at,
        "actor_label": SLA_ACTOR_LABEL,
        "kind": transition.kind,
        "field": transition.target.value,
        "old_value": transition.old_value,
        "new_value": transition.new_value,
        "data": transition.data or None,
        "synthesized": synthesized,
    }


def recompute_timers(
    *, session: Session, incident: TimedRecord, now: datetime | None = None
) -> list[SlaTimer]:
    """(Re)compute the incident's SLA timers by replaying its event log, as of ``now``.

    Appends the SLA transitions the log does not hold yet (each exactly once), records warnings
    and breaches that have happened (each once; the worker escalates them) and returns the timers.
    The caller holds the incident row locked (the incident service and the worker both do).
    """
    now = now or datetime.now(UTC)
    session.flush()
    events = events_service.list_for(
        session=session, entity_type=EntityType.incident, entity_id=incident.id
    )
    _recompute(
        session,
        [_subject(incident, _logged(events))],
        policies=active_policy_rules(session=session),
        now=now,
        escalate=True,
        synthesized=False,
    )
    return timers_for(session=session, incident_id=incident.id)


def backfill(
    *,
    session: Session,
    incidents: Sequence[TimedRecord],
    now: datetime | None = None,
    policies: Sequence[timeline.PolicyRules] | None = None,
) -> int:
    """Compute the timers of (imported) incidents from their event logs; returns how many
    incidents were replayed. The same replay as ``recompute_timers``, loaded set-wise: one query
    for the events of all ``incidents`` (callers pass a chunk of about a thousand). Warnings and
    breaches found in the history are recorded but not escalated; the SLA events it appends are
    marked synthesized. ``policies`` saves loading the active ones again for every chunk."""
    now = now or datetime.now(UTC)
    session.flush()
    history = events_service.rows_for_many(
        session=session,
        entity_type=EntityType.incident,
        entity_ids=[incident.id for incident in incidents],
        data_keys=timeline.DATA_KEYS,
    )
    # Each row is (entity_id, seq, then HistoryEvent's fields).
    subjects = [
        _subject(incident, (row[2:] for row in history.get(incident.id, ())))
        for incident in incidents
    ]
    _recompute(
        session,
        subjects,
        policies=policies if policies is not None else active_policy_rules(session=session),
        now=now,
        escalate=False,
        synthesized=True,
    )
    return len(subjects)


# ---------------------------------------------------------------------------------------------
# The past (read only)


@dataclass(frozen=True)
class PastTimers:
    """What the SLA replay knew of an incident at an instant: its attributes then (state, hold
    reason, priority, service, category) and its timers as they stood then."""

    at: datetime
    attributes: timeline.Attributes
    timers: list[timeline.TimerOutcome]


def timers_as_of(
    *, session: Session, incident: TimedRecord, at: datetime, events: Sequence[Any] | None = None
) -> PastTimers:
    """The incident's timers as they were at ``at``: the same replay as ``recompute_timers``,
    of its log up to ``at``, with the policies and calendars in force at ``at`` (their
    versions, docs/sla.md). Writes nothing. ``events`` (its log in seq order) saves loading it
    again; the caller makes sure ``at`` is not before the incident was opened."""
    if events is None:
        events = events_service.list_for(
            session=session, entity_type=EntityType.incident, entity_id=incident.id
        )
    subject = _subject(incident, _logged(events))
    points = timeline.change_points(
        opened_at=subject.opened_at,
        requester_id=subject.requester_id,
        current=subject.current,
        events=subject.history,
    )
    # Change points carry the time the replay gives each event (never before the one before).
    kept = [point for point in points if point.at <= at] or points[:1]
    outcomes = timeline.replay(
        points=kept, policies=policy_rules_at(session=session, at=at), now=at
    )
    return PastTimers(at=at, attributes=kept[-1].attributes, timers=outcomes)


# ---------------------------------------------------------------------------------------------
# The worker's scan


def incidents_needing_attention(
    *, session: Session, now: datetime, limit: int = 500, after_id: int = 0
) -> list[int]:
    """Incidents with a warning or breach falling due by ``now``, or with alerts not escalated;
    in id order from ``after_id`` on (the worker pages through a backlog with it)."""
    due = select(SlaTimer.incident_id).where(SlaTimer.next_alert_at <= now)
    pending = select(SlaAlert.incident_id).where(
        SlaAlert.escalated_at.is_(None), SlaAlert.incident_id.is_not(None)
    )
    combined = union(due, pending).subquery()
    return list(
        session.scalars(
            select(combined.c.incident_id)
            .where(combined.c.incident_id > after_id)
            .order_by(combined.c.incident_id)
            .limit(limit)
        )
    )
