"""The SLA clocks of one incident, replayed from its event log. Pure: no database, no clock.

Every number comes from ``operational.sla.businesstime``; this module only decides *which*
intervals count, under *which* policy. The same function serves the live recompute, the worker
and the backfill of imported history, so all three agree by construction (docs/sla.md, "Timers").

The replay turns the log into change points: the incident's attributes (state, hold reason,
priority, service, category) after every instant at which something happened, plus whether an
agent touched it then. Per target it then derives, at every change point, the policy in force,
the phase (open, completed, cancelled) and whether the clock runs, and from those the timer's
numbers and the list of SLA transitions that belong in the event log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from operational.sla import businesstime
from operational.sla.businesstime import BusinessCalendar
from operational.sla.enums import BREACH_THRESHOLD, TimerState, TimerTarget

OPEN = "open"
COMPLETED = "completed"
CANCELLED = "cancelled"
RUNNING = "running"
PAUSED = "paused"

# A timer whose calendar cannot be used is looked at again this much later (the worker's scan),
# so that it recovers by itself once the calendar is mended.
ERROR_RETRY = timedelta(hours=1)

_OPEN_STATES = frozenset({"new", "assigned", "in_progress", "on_hold"})
_RESOLVED_STATES = frozenset({"resolved", "closed"})
_ASSIGNEE_FIELDS = frozenset({"assignee", "assignee_id"})
# Keys an automatic assignment records in the event data: a rule's or a rotation's pick is not an
# agent's touch.
_AUTOMATIC_ASSIGNMENT_KEYS = ("rule_id", "assignment_rule_id", "picked_by")
NATIVE = "native"
# Every key of an event's data that the replay reads (is_first_touch, _apply): readers of many
# logs may leave out the data of events that hold none of them.
DATA_KEYS = ("first_response", "hold_reason", *_AUTOMATIC_ASSIGNMENT_KEYS)

# Order of transitions that share an instant in the event log.
_KIND_ORDER = {
    "sla_started": 0,
    "sla_retargeted": 1,
    "sla_resumed": 2,
    "sla_paused": 3,
    "sla_warning": 4,
    "sla_breached": 5,
    "sla_met": 6,
    "sla_cancelled": 7,
}


@dataclass(frozen=True)
class PauseRule:
    state: str
    hold_reason: str | None = None

    def matches(self, state: str, hold_reason: str | None) -> bool:
        return self.state == state and (self.hold_reason is None or self.hold_reason == hold_reason)


@dataclass(frozen=True)
class PolicyRules:
    """What the replay needs of a policy (built from an SlaPolicy row and its calendar).
    ``calendar`` is None when the stored calendar cannot be built; ``calendar_error`` says why."""

    id: int
    name: str
    calendar: BusinessCalendar | None
    response_minutes: int
    resolution_minutes: int
    pause_on: tuple[PauseRule, ...] = (PauseRule("on_hold", "awaiting_caller"),)
    warning_thresholds: tuple[int, ...] = (75, 90)
    priority: int | None = None
    service: str | None = None
    category: str | None = None
    calendar_error: str | None = None
    # pauses() by (state, hold reason): asked at every change point of every incident replayed.
    _pausing: dict[tuple[str, str | None], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def target_minutes(self, target: TimerTarget) -> int:
        if target == TimerTarget.response:
            return self.response_minutes
        return self.resolution_minutes

    def pauses(self, state: str, hold_reason: str | None) -> bool:
        key = (state, hold_reason)
        found = self._pausing.get(key)
        if found is None:
            found = self._pausing[key] = state in _OPEN_STATES and any(
                rule.matches(state, hold_reason) for rule in self.pause_on
            )
        return found

    def specificity(self) -> tuple[bool, bool, bool]:
        return (self.service is not None, self.category is not None, self.priority is not None)


def _same_label(left: str | None, right: str | None) -> bool:
    return (left or "").strip().casefold() == (right or "").strip().casefold()


class Attributes(NamedTuple):
    state: str
    hold_reason: str | None
    priority: int | None
    service: str | None
    category: str | None


def match_policy(policies: Iterable[PolicyRules], attributes: Attributes) -> PolicyRules | None:
    """The most specific policy whose every given criterion matches; lowest id breaks ties."""
    best: PolicyRules | None = None
    for policy in policies:
        if policy.priority is not None and policy.priority != attributes.priority:
            continue
        if policy.service is not None and not _same_label(policy.service, attributes.service):
            continue
        if policy.category is not None and not _same_label(policy.category, attributes.category):
            continue
        if (
            best is None
            or policy.specificity() > best.specificity()
            or (policy.specificity() == best.specificity() and policy.id < best.id)
        ):
            best = policy
    return best


class HistoryEvent(NamedTuple):
    """One non-SLA event of the incident's log, in log (seq) order."""

    occurred_at: datetime
    kind: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    actor_id: int | None = None
    data: dict[str, Any] | None = None
    source_system: str = NATIVE


class ChangePoint(NamedTuple):
    at: datetime
    attributes: Attributes
    touched: bool  # an agent's first-response action happened at this instant


def _priority(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_first_touch(event: HistoryEvent, *, requester_id: int | None) -> bool:
    """Whether the event is an agent's first response (it completes the response timer).

    Native events carry the incident service's own verdict (``data.first_response``, the same
    moment it stores as ``acknowledged_at``). Imported events are judged by the same rules: a
    move to In Progress, a public comment by someone other than the requester, or assigning a
    person (by someone other than the requester, not by a rule or a team's rotation).
    """
    data = event.data or {}
    if event.source_system == NATIVE:
        return bool(data.get("first_response"))
    if event.kind == "state_changed":
        return event.new_value == "in_progress"
    by_agent = event.actor_id is not None and event.actor_id != requester_id
    if event.kind == "comment_added":
        return by_agent
    if event.kind == "assigned" and event.field in _ASSIGNEE_FIELDS and event.new_value:
        automatic = any(key in data for key in _AUTOMATIC_ASSIGNMENT_KEYS)
        return by_agent and not automatic
    return False


def change_points(
    *,
    opened_at: datetime,
    requester_id: int | None,
    current: Attributes,
    events: Sequence[HistoryEvent],
) -> list[ChangePoint]:
    """The incident's attributes after each instant that had events, from ``opened_at`` on.

    Initial values come from the first change of each field (its old value), else the current
    value. Events that claim to precede ``opened_at`` or an earlier event count at that time.
    """
    first_old: dict[str, str | None] = {}
    for event in events:
        name = _tracked_field(event)
        if name is not None and name not in first_old:
            first_old[name] = event.old_value
    attributes = Attributes(
        state="new",
        hold_reason=None,
        priority=_priority(first_old["priority"]) if "priority" in first_old else current.priority,
        service=first_old.get("service", current.service),
        category=first_old.get("category", current.category),
    )
    points = [ChangePoint(opened_at, attributes, False)]
    for event in events:
        at = max(event.occurred_at, points[-1].at)
        attributes = _apply(attributes, event)
        touched = is_first_touch(event, requester_id=requester_id)
        if at == points[-1].at:
            points[-1] = ChangePoint(at, attributes, points[-1].touched or touched)
        else:
            points.append(ChangePoint(at, attributes, touched))
    last = points[-1].attributes
    if last.state == "on_hold" and last.hold_reason is None and current.hold_reason is not None:
        # A hold whose reason the log does not carry: the incident row knows it.
        points[-1] = points[-1]._replace(attributes=last._replace(hold_reason=current.hold_reason))
    return points


def _tracked_field(event: HistoryEvent) -> str | None:
    if event.kind == "priority_changed":
        return "priority"
    if event.kind == "field_changed" and event.field in ("service", "category"):
        return event.field
    return None


def _apply(attributes: Attributes, event: HistoryEvent) -> Attributes:
    data = event.data or {}
    if event.kind == "state_changed" and event.new_value:
        # Entering a hold keeps a reason set just before (or carried in the data); leaving clears.
        hold_reason = None
        if event.new_value == "on_hold":
            hold_reason = data.get("hold_reason", attributes.hold_reason)
        return attributes._replace(state=event.new_value, hold_reason=hold_reason)
    if event.kind == "field_changed" and event.field == "hold_reason":
        return attributes._replace(hold_reason=event.new_value)
    if event.kind == "priority_changed":
        priority = _priority(event.new_value)
        return attributes if priority is None else attributes._replace(priority=priority)
    if event.kind == "field_changed" and event.field in ("service", "category"):
        return attributes._replace(**{event.field: event.new_value})
    return attributes


@dataclass(frozen=True)
class Transition:
    """An SLA event the log must hold: ``(kind, target, at, threshold)`` identifies it."""

    kind: str
    target: TimerTarget
    at: datetime
    threshold: int | None = None
    old_value: str | None = None
    new_value: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> tuple[str, str, datetime, int | None]:
        return (self.kind, self.target.value, self.at, self.threshold)

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        return (self.at, _KIND_ORDER[self.kind], self.threshold or 0)


class Crossing(NamedTuple):
    """A warning threshold or the breach (100) of one target, and when it became a fact."""

    target_minutes: int
    threshold: int
    at: datetime


@dataclass
class TimerOutcome:
    target: TimerTarget
    policy: PolicyRules
    target_minutes: int
    started_at: datetime
    due_at: datetime | None
    elapsed_minutes: float
    paused_minutes: float
    state: TimerState
    completed_at: datetime | None
    breached_at: datetime | None
    warnings_fired: list[int]
    next_alert_at: datetime | None
    crossings: list[Crossing]
    transitions: list[Transition]
    error: str | None = None  # why the timer could not be computed (state error)


Stop = tuple[datetime, datetime | None]


class _Walk(NamedTuple):
    """One target's change points, walked once: what the timer's numbers and transitions need."""

    # Open, completed or cancelled, at each change point.
    phases: list[str]
    # Each policy in force at some change point, in order of first use.
    policies: list[PolicyRules]
    # (policy, from when) at the start and at each change of policy.
    segments: list[tuple[PolicyRules, datetime]]
    # (at, policy before, policy after, mode before, mode after) where either changed; the mode
    # is running, paused, completed or cancelled, and "before" the first point is running.
    changes: list[tuple[datetime, PolicyRules, PolicyRules, str, str]]
    # When the clock did not run, by the pause rules of the policy in force at each point.
    stops: list[Stop]
    final_mode: str
    final_mode_since: datetime


def _walk(
    target: TimerTarget,
    points: Sequence[ChangePoint],
    matches: Sequence[PolicyRules | None],
    before_first: PolicyRules | None = None,
) -> _Walk | None:
    """At each change point, in one pass: the phase, the policy in force, whether the clock runs.

    The phase: the resolution timer is open while the incident is; the response timer stops for
    good at the first touch (a resolution counts) or a cancellation. The policy is re-matched
    while the timer is open and frozen otherwise; before any policy matches, the first one that
    does applies from the original start (``before_first``: the walk is started again with it).
    None when no policy ever matches.
    """
    response = target == TimerTarget.response
    phases: list[str] = []
    policies: list[PolicyRules] = []
    segments: list[tuple[PolicyRules, datetime]] = []
    changes: list[tuple[datetime, PolicyRules, PolicyRules, str, str]] = []
    stops: list[Stop] = []
    stopped_since: datetime | None = None
    phase = OPEN
    policy = before_first
    previous_policy = before_first
    previous_mode = RUNNING
    mode_since = points[0].at
    for index, point in enumerate(points):
        state = point.attributes.state
        if response and phase != OPEN:
            pass  # stopped for good
        elif state == "cancelled":
            phase = CANCELLED
        elif state in _RESOLVED_STATES or (response and point.touched):
            phase = COMPLETED
        else:
            phase = OPEN
        phases.append(phase)
        match = matches[index]
        if match is not None and (phase == OPEN or not index):
            policy = match
        if policy is None:
            continue  # which policy applies from the start is found further on
        if previous_policy is None:
            if index:
                # The first policy to match, at a later change point: it applies from the start.
                return _walk(target, points, matches, before_first=policy)
            previous_policy = policy
        at = point.at
        if phase != OPEN:
            mode = phase
        elif policy.pauses(state, point.attributes.hold_reason):
            mode = PAUSED
        else:
            mode = RUNNING
        if mode != RUNNING:
            if stopped_since is None:
                stopped_since = at
        elif stopped_since is not None:
            if at > stopped_since:
                stops.append((stopped_since, at))
            stopped_since = None
        if policy is not previous_policy or not segments:
            if not segments or policy.id != segments[-1][0].id:
                segments.append((policy, at))
            if policy not in policies:
                policies.append(policy)
        if mode != previous_mode or policy.id != previous_policy.id:
            changes.append((at, previous_policy, policy, previous_mode, mode))
            if mode != previous_mode:
                mode_since = at
        previous_policy, previous_mode = policy, mode
    if policy is None:
        return None
    if stopped_since is not None:
        stops.append((stopped_since, None))
    return _Walk(phases, policies, segments, changes, stops, previous_mode, mode_since)


def _matches(
    points: Sequence[ChangePoint], policies: Sequence[PolicyRules]
) -> list[PolicyRules | None]:
    """The policy matching the attributes at each change point."""
    cache: dict[tuple[int | None, str | None, str | None], PolicyRules | None] = {}
    matches = []
    for point in points:
        attributes = point.attributes
        key = (attributes.priority, attributes.service, attributes.category)
        if key not in cache:
            cache[key] = match_policy(policies, attributes)
        matches.append(cache[key])
    return matches


def _stops(points: Sequence[ChangePoint], phases: Sequence[str], policy: PolicyRules) -> list[Stop]:
    """Intervals in which ``policy``'s clock did not run: pauses, and resolved spells."""
    stops: list[Stop] = []
    start: datetime | None = None
    for point, phase in zip(points, phases, strict=True):
        stopped = phase != OPEN or policy.pauses(
            point.attributes.state, point.attributes.hold_reason
        )
        if stopped and start is None:
            start = point.at
        elif not stopped and start is not None:
            if point.at > start:
                stops.append((start, point.at))
            start = None
    if start is not None:
        stops.append((start, None))
    return stops


def _closed(stops: Sequence[Stop]) -> list[Stop]:
    """The stops without a trailing open one: the clock as it stood when it last ran."""
    return [stop for stop in stops if stop[1] is not None]


def replay(
    *,
    points: Sequence[ChangePoint],
    policies: Sequence[PolicyRules],
    now: datetime,
) -> list[TimerOutcome]:
    """Both timers of one incident as of ``now`` (no timer when no policy ever matches)."""
    now = max(now, points[-1].at)
    matches = _matches(points, policies)
    outcomes = []
    for target in TimerTarget:
        outcome = _replay_target(target, points, matches, now)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _replay_target(
    target: TimerTarget,
    points: Sequence[ChangePoint],
    matches: Sequence[PolicyRules | None],
    now: datetime,
) -> TimerOutcome | None:
    walk = _walk(target, points, matches)
    if walk is None:
        return None
    started_at = points[0].at
    last = walk.segments[-1][0]
    unusable = next((policy for policy in walk.policies if policy.calendar is None), None)
    if unusable is not None:
        return _unusable(target, last, unusable, unusable.calendar_error, started_at, now)
    try:
        return _computed(target, points, walk, started_at, now)
    except businesstime.NoBusinessTime as exc:
        # Which policy's calendar: the one whose arithmetic failed is among those in force.
        culprit = next(
            (policy for policy in walk.policies if not policy.calendar.has_working_time), last
        )
        return _unusable(target, last, culprit, str(exc), started_at, now)


def _unusable(
    target: TimerTarget,
    policy: PolicyRules,
    culprit: PolicyRules,
    reason: str | None,
    started_at: datetime,
    now: datetime,
) -> TimerOutcome:
    """A timer the engine cannot compute: no numbers, the reason, and a look again later."""
    return TimerOutcome(
        target=target,
        policy=policy,
        target_minutes=policy.target_minutes(target),
        started_at=started_at,
        due_at=None,
        elapsed_minutes=0.0,
        paused_minutes=0.0,
        state=TimerState.error,
        completed_at=None,
        breached_at=None,
        warnings_fired=[],
        next_alert_at=now + ERROR_RETRY,
        crossings=[],
        transitions=[],
        error=f"the calendar of policy {culprit.name!r} cannot be used: {reason}",
    )


def _computed(
    target: TimerTarget,
    points: Sequence[ChangePoint],
    walk: _Walk,
    started_at: datetime,
    now: datetime,
) -> TimerOutcome:
    # The walk's stops are every policy's when all in force pause alike (the usual case: one).
    pause_alike = len({policy.pause_on for policy in walk.policies}) == 1
    stops_cache: dict[int, list[Stop]] = {}

    def stops_of(policy: PolicyRules) -> list[Stop]:
        if pause_alike:
            return walk.stops
        if policy.id not in stops_cache:
            stops_cache[policy.id] = _stops(points, walk.phases, policy)
        return stops_cache[policy.id]

    clocks: dict[int, businesstime.Clock] = {}

    def clock_of(policy: PolicyRules) -> businesstime.Clock:
        # The same start and stops serve every sum and target of the policy: converted once.
        if policy.id not in clocks:
            clocks[policy.id] = businesstime.Clock(policy.calendar, started_at, stops_of(policy))
        return clocks[policy.id]

    elapsed_cache: dict[tuple[int, datetime], float] = {}

    def elapsed(policy: PolicyRules, until: datetime) -> float:
        key = (policy.id, until)
        if key not in elapsed_cache:
            elapsed_cache[key] = clock_of(policy).minutes_until(until)
        return elapsed_cache[key]

    transitions = _transitions(target, started_at, walk, elapsed)
    crossings = _crossings(walk.segments, now, elapsed, clock_of, target)
    transitions.extend(
        Transition(
            kind="sla_breached" if crossing.threshold == BREACH_THRESHOLD else "sla_warning",
            target=target,
            at=crossing.at,
            threshold=None if crossing.threshold == BREACH_THRESHOLD else crossing.threshold,
            new_value=str(
                crossing.target_minutes
                if crossing.threshold == BREACH_THRESHOLD
                else crossing.threshold
            ),
            data={"threshold": crossing.threshold, "target_minutes": crossing.target_minutes},
        )
        for crossing in crossings
    )
    transitions.sort(key=lambda transition: transition.sort_key)

    policy = walk.segments[-1][0]
    calendar = policy.calendar
    target_minutes = policy.target_minutes(target)
    stops = stops_of(policy)
    final_mode = walk.final_mode
    completed_at = walk.final_mode_since if final_mode in (COMPLETED, CANCELLED) else None
    elapsed_minutes = elapsed(policy, now)
    end_of_life = completed_at or now
    paused_minutes = max(
        0.0,
        businesstime.business_minutes_between(calendar, started_at, end_of_life) - elapsed_minutes,
    )
    if final_mode == RUNNING:
        due_at = clock_of(policy).add(target_minutes)
    elif final_mode == PAUSED:
        due_at = None
    else:
        due_at = businesstime.add_business_minutes(
            calendar, started_at, target_minutes, pauses=_closed(stops)
        )

    crossed = {c.threshold: c.at for c in crossings if c.target_minutes == target_minutes}
    breached = elapsed_minutes > target_minutes
    if final_mode == CANCELLED:
        state = TimerState.cancelled
    elif breached:
        state = TimerState.breached
    elif final_mode == COMPLETED:
        state = TimerState.met
    elif final_mode == PAUSED:
        state = TimerState.paused
    else:
        state = TimerState.running

    next_alert_at = None
    if final_mode == RUNNING:
        # Thresholds are crossed in ascending order: the lowest pending one comes next.
        pending = [
            threshold
            for threshold in (*policy.warning_thresholds, BREACH_THRESHOLD)
            if threshold not in crossed
        ]
        if pending:
            next_alert_at = clock_of(policy).add(target_minutes * min(pending) / 100)

    return TimerOutcome(
        target=target,
        policy=policy,
        target_minutes=target_minutes,
        started_at=started_at,
        due_at=due_at,
        elapsed_minutes=elapsed_minutes,
        paused_minutes=paused_minutes,
        state=state,
        completed_at=completed_at,
        breached_at=crossed.get(BREACH_THRESHOLD) if breached else None,
        warnings_fired=sorted(t for t in crossed if t != BREACH_THRESHOLD),
        next_alert_at=next_alert_at,
        crossings=crossings,
        transitions=transitions,
    )


def _transitions(
    target: TimerTarget, started_at: datetime, walk: _Walk, elapsed
) -> list[Transition]:
    first = walk.policies[0]
    transitions = [
        Transition(
            "sla_started",
            target=target,
            at=started_at,
            new_value=str(first.target_minutes(target)),
            data={
                "policy_id": first.id,
                "policy": first.name,
                "target_minutes": first.target_minutes(target),
            },
        )
    ]
    for at, previous_policy, policy, previous_mode, mode in walk.changes:
        if policy.id != previous_policy.id:
            transitions.append(
                Transition(
                    "sla_retargeted",
                    target=target,
                    at=at,
                    old_value=str(previous_policy.target_minutes(target)),
                    new_value=str(policy.target_minutes(target)),
                    data={
                        "old_policy_id": previous_policy.id,
                        "new_policy_id": policy.id,
                        "policy": policy.name,
                        "target_minutes": policy.target_minutes(target),
                    },
                )
            )
        if mode != previous_mode:
            transitions.extend(_mode_change(target, at, previous_mode, mode, policy, elapsed))
    return transitions


def _mode_change(
    target: TimerTarget, at: datetime, before: str, after: str, policy: PolicyRules, elapsed
) -> list[Transition]:
    was_open = before in (RUNNING, PAUSED)
    change = {"target": target, "at": at, "old_value": before}
    if after == PAUSED:
        reason = "paused" if was_open else "reopened"
        return [Transition("sla_paused", new_value=PAUSED, data={"reason": reason}, **change)]
    if after == RUNNING:
        reason = "pause ended" if before == PAUSED else "reopened"
        return [Transition("sla_resumed", new_value=RUNNING, data={"reason": reason}, **change)]
    if after == CANCELLED:
        return [Transition("sla_cancelled", new_value=CANCELLED, **change)]
    if after == COMPLETED and was_open:
        target_minutes = policy.target_minutes(target)
        used = elapsed(policy, at)
        if used <= target_minutes:
            data = {"elapsed_minutes": used, "target_minutes": target_minutes}
            return [Transition("sla_met", new_value="met", data=data, **change)]
    return []


def _crossings(
    segments: Sequence[tuple[PolicyRules, datetime]],
    now: datetime,
    elapsed,
    clock_of,
    target: TimerTarget,
) -> list[Crossing]:
    """Thresholds crossed while each policy was in force (``segments``: each policy and from
    when). A crossing that a re-target made retroactive (it lies before the re-target) became a
    fact at the re-target."""
    crossings: list[Crossing] = []
    seen: set[tuple[int, int]] = set()
    for index, (policy, segment_start) in enumerate(segments):
        segment_end = segments[index + 1][1] if index + 1 < len(segments) else now
        target_minutes = policy.target_minutes(target)
        used = elapsed(policy, segment_end)
        for threshold in (*policy.warning_thresholds, BREACH_THRESHOLD):
            minutes = target_minutes * threshold / 100
            if used <= minutes or (target_minutes, threshold) in seen:
                continue
            at = clock_of(policy).add(minutes)
            seen.add((target_minutes, threshold))
            crossings.append(Crossing(target_minutes, threshold, max(at, segment_start)))
    return crossings
