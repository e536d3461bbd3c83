"""The replay's walk of each target's change points (``timeline._walk``), one pass for what four
did: checked against those four written out plainly (a property test), then on the rare paths
it takes (a policy that matches only later, policies in force that pause differently).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from operational.sla import timeline
from operational.sla.businesstime import BusinessCalendar
from operational.sla.enums import TimerState, TimerTarget
from operational.sla.timeline import (
    CANCELLED,
    COMPLETED,
    OPEN,
    PAUSED,
    RUNNING,
    Attributes,
    ChangePoint,
    PauseRule,
    PolicyRules,
)

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
ALWAYS = BusinessCalendar.twenty_four_seven()

# --- the definitions, one walk each ------------------------------------------------------------


def phases_of(target, points):
    phases = []
    for point in points:
        state = point.attributes.state
        if target == TimerTarget.resolution:
            if state == "cancelled":
                phases.append(CANCELLED)
            elif state in ("resolved", "closed"):
                phases.append(COMPLETED)
            else:
                phases.append(OPEN)
            continue
        previous = phases[-1] if phases else OPEN
        if previous != OPEN:
            phases.append(previous)
        elif state == "cancelled":
            phases.append(CANCELLED)
        elif point.touched or state in ("resolved", "closed"):
            phases.append(COMPLETED)
        else:
            phases.append(OPEN)
    return phases


def in_force_of(phases, matches):
    """Re-matched while open, frozen otherwise; the first to match applies from the start."""
    matched = []
    for phase, match in zip(phases, matches, strict=True):
        found = match if phase == OPEN or not matched else None
        matched.append(found if found is not None else (matched[-1] if matched else None))
    first = next((policy for policy in matched if policy is not None), None)
    if first is None:
        return None
    return [policy if policy is not None else first for policy in matched]


def modes_of(points, phases, in_force):
    return [
        phase
        if phase != OPEN
        else (
            PAUSED
            if policy.pauses(point.attributes.state, point.attributes.hold_reason)
            else RUNNING
        )
        for point, phase, policy in zip(points, phases, in_force, strict=True)
    ]


def stops_of(points, phases, policy):
    stops, start = [], None
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


# --- random histories --------------------------------------------------------------------------

STATES = ("new", "assigned", "in_progress", "on_hold", "resolved", "closed", "cancelled")
HOLD_REASONS = (None, "awaiting_caller", "awaiting_vendor")
PAUSE_RULES = (
    (PauseRule("on_hold", "awaiting_caller"),),
    (PauseRule("on_hold"),),
    (PauseRule("on_hold", "awaiting_vendor"), PauseRule("resolved")),
)


@st.composite
def histories(draw):
    count = draw(st.integers(1, 12))
    points = []
    at = START
    for _ in range(count):
        at += timedelta(minutes=draw(st.integers(1, 600)))
        attributes = Attributes(
            state=draw(st.sampled_from(STATES)),
            hold_reason=draw(st.sampled_from(HOLD_REASONS)),
            priority=draw(st.sampled_from((1, 2, 3, None))),
            service=None,
            category=None,
        )
        points.append(ChangePoint(at, attributes, draw(st.booleans())))
    policies = [
        PolicyRules(
            id=number,
            name=f"P{number}",
            calendar=ALWAYS,
            response_minutes=60 * number,
            resolution_minutes=240 * number,
            pause_on=draw(st.sampled_from(PAUSE_RULES)),
            priority=priority,
        )
        # Priority 3 and None match none of them: timers that start unmatched, or never match.
        for number, priority in enumerate(draw(st.lists(st.sampled_from((1, 2)), max_size=3)), 1)
    ]
    return points, policies


@settings(max_examples=400, deadline=None)
@given(histories(), st.sampled_from(list(TimerTarget)))
def test_one_walk_finds_what_the_four_definitions_do(history, target):
    points, policies = history
    matches = timeline._matches(points, policies)
    walk = timeline._walk(target, points, matches)

    phases = phases_of(target, points)
    in_force = in_force_of(phases, matches)
    if in_force is None:
        assert walk is None
        return
    modes = modes_of(points, phases, in_force)
    assert walk.phases == phases
    assert walk.policies == list(dict.fromkeys(in_force))
    segments = []
    for point, policy in zip(points, in_force, strict=True):
        if not segments or segments[-1][0].id != policy.id:
            segments.append((policy, point.at))
    assert walk.segments == segments
    before = (RUNNING, in_force[0])
    changes = []
    for point, policy, mode in zip(points, in_force, modes, strict=True):
        if mode != before[0] or policy.id != before[1].id:
            changes.append((point.at, before[1], policy, before[0], mode))
        before = (mode, policy)
    assert walk.changes == changes
    assert walk.final_mode == modes[-1]
    since = len(modes) - 1
    while since > 0 and modes[since - 1] == modes[-1]:
        since -= 1
    assert walk.final_mode_since == points[since].at
    if len({policy.pause_on for policy in in_force}) == 1:
        assert walk.stops == stops_of(points, phases, in_force[0])


# --- the rare paths, through the whole replay ---------------------------------------------------


def point(minutes, state="new", priority=1, hold_reason=None, touched=False):
    attributes = Attributes(state, hold_reason, priority, None, None)
    return ChangePoint(START + timedelta(minutes=minutes), attributes, touched)


def policy(number, priority, pause_on=PAUSE_RULES[0]):
    return PolicyRules(
        id=number,
        name=f"P{number}",
        calendar=ALWAYS,
        response_minutes=600,
        resolution_minutes=100 * number,
        pause_on=pause_on,
        priority=priority,
    )


def resolution(points, policies, now_minutes):
    now = START + timedelta(minutes=now_minutes)
    outcomes = timeline.replay(points=points, policies=policies, now=now)
    return next(o for o in outcomes if o.target == TimerTarget.resolution)


def test_a_policy_that_matches_only_later_applies_from_the_start():
    # Opened at a priority no policy covers, waiting for the caller 08:10-08:40, raised to 1 at
    # 08:50: P1 applies from 08:00, its pause included.
    points = [
        point(0, priority=3),
        point(10, "on_hold", priority=3, hold_reason="awaiting_caller"),
        point(40, "assigned", priority=3),
        point(50, "assigned", priority=1),
    ]
    timer = resolution(points, [policy(1, priority=1)], now_minutes=60)
    assert (timer.policy.id, timer.elapsed_minutes, timer.paused_minutes) == (1, 30, 30)
    assert [(t.kind, t.at, t.data.get("policy_id")) for t in timer.transitions] == [
        ("sla_started", START, 1),
        ("sla_paused", START + timedelta(minutes=10), None),
        ("sla_resumed", START + timedelta(minutes=40), None),
    ]


def test_each_policy_in_force_counts_with_its_own_pauses():
    # P1 pauses only awaiting the caller, P2 on any hold. On hold (awaiting a vendor) from 08:20
    # to 08:50 under P1, then retargeted to P2 (priority 2) at 09:00 and on hold again 09:10-09:40.
    p1 = policy(1, priority=1)
    p2 = policy(2, priority=2, pause_on=PAUSE_RULES[1])
    points = [
        point(0),
        point(20, "on_hold", hold_reason="awaiting_vendor"),
        point(50, "assigned"),
        point(60, "assigned", priority=2),
        point(70, "on_hold", priority=2, hold_reason="awaiting_vendor"),
        point(100, "assigned", priority=2),
    ]
    timer = resolution(points, [p1, p2], now_minutes=120)
    # P2 counts the whole life outside its holds: 120 - 30 - 30 minutes.
    assert (timer.policy.id, timer.elapsed_minutes, timer.state) == (2, 60, TimerState.running)
    assert timer.due_at == START + timedelta(minutes=200 + 60)
    kinds = [(t.kind, t.at) for t in timer.transitions]
    assert ("sla_retargeted", START + timedelta(minutes=60)) in kinds
    # Under P1 the first hold did not pause; under P2 the second does.
    assert ("sla_paused", START + timedelta(minutes=20)) not in kinds
    assert ("sla_paused", START + timedelta(minutes=70)) in kinds
    assert ("sla_resumed", START + timedelta(minutes=100)) in kinds
