"""Backfill of imported history: the same replay as the live recompute, so the same result."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from operational.incidents import flows as incident_flows
from operational.sla import timers as sla_timers
from operational.sla.models import SlaAlert
from tests.sla.conftest import OFFICE_HOURS

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """June 2026 in Amsterdam (CEST); Monday 1 June is day 1."""
    return datetime(2026, 6, day, hour, minute, tzinfo=AMSTERDAM)


# One history, step by step: (when, what). Monday 1 June 09:00 to Monday 8 June 12:00.
HISTORY = [
    (local(1, 9, 10), ("comment", "requester")),
    (local(1, 9, 40), ("assign", "agent")),
    (local(1, 10), ("move", "in_progress")),
    (local(1, 11), ("hold", "awaiting_caller")),
    (local(1, 14), ("move", "in_progress")),
    (local(1, 15), ("priority", 2)),
    (local(2, 16), ("move", "resolved")),
    (local(3, 10), ("move", "in_progress")),  # reopened
    (local(4, 12), ("move", "resolved")),
    (local(8, 12), ("move", "closed")),
]
END = local(8, 13)


def _policies(sla):
    calendar = sla.calendar(timezone="Europe/Amsterdam", weekly_hours=OFFICE_HOURS)
    sla.policy(calendar=calendar, priority=3, response=120, resolution=960, name="P3 office")
    sla.policy(calendar=calendar, priority=2, response=60, resolution=480, name="P2 office")


def _apply(sla, incident, when, step, *, native: bool) -> None:
    action, value = step
    touch = {"first_response": True} if native else None
    if action == "comment":
        sla.event(incident, when, "comment_added", actor=getattr(sla, value))
    elif action == "assign":
        sla.event(
            incident, when, "assigned", field="assignee", new="Agent", actor=sla.agent, data=touch
        )
    elif action == "hold":
        sla.move(incident, when, "on_hold", hold_reason=value)
    elif action == "priority":
        sla.set_priority(incident, when, value)
    else:
        sla.move(incident, when, value)


def _scan_until(sla, incident, until: datetime) -> None:
    """What the worker does between two changes: recompute when a warning or breach falls due
    (30 seconds late, as a scan would be)."""
    while True:
        timers = sla_timers.timers_for(session=sla.session, incident_id=incident.id)
        due = min((t.next_alert_at for t in timers if t.next_alert_at), default=None)
        if due is None or due + timedelta(seconds=30) >= until:
            return
        sla.recompute(incident, now=due + timedelta(seconds=30))


def _timer_facts(session, incident) -> dict:
    return {
        timer.target: (
            timer.policy.name,
            timer.target_minutes,
            timer.started_at,
            timer.due_at,
            timer.elapsed_minutes,
            timer.paused_minutes,
            timer.state,
            timer.completed_at,
            timer.breached_at,
            timer.warnings_fired,
        )
        for timer in sla_timers.timers_for(session=session, incident_id=incident.id)
    }


def _sla_event_facts(sla, incident) -> list[tuple]:
    return sorted(
        (e.occurred_at, e.field, e.kind, e.old_value, e.new_value) for e in sla.sla_events(incident)
    )


def test_backfill_equals_the_live_recompute_of_the_same_history(sla):
    _policies(sla)
    opened = local(1, 9)
    live = sla.incident(opened_at=opened, priority=3)
    sla.recompute(live, now=opened)
    for when, step in HISTORY:
        _scan_until(sla, live, when)
        _apply(sla, live, when, step, native=True)
        sla.recompute(live, now=when)
    _scan_until(sla, live, END)
    sla.recompute(live, now=END)

    imported = sla.incident(opened_at=opened, priority=3, source_system="servicenow")
    for when, step in HISTORY:
        _apply(sla, imported, when, step, native=False)
    assert (
        incident_flows.backfill_sla(session=sla.session, incident_ids=[imported.id], now=END) == 1
    )

    facts = _timer_facts(sla.session, imported)
    assert facts == _timer_facts(sla.session, live)
    assert _sla_event_facts(sla, imported) == _sla_event_facts(sla, live)

    # And by hand. Response: P3's 120 min; met at the agent's assignment, 40 minutes in; a
    # finished timer is not re-targeted by the later priority change.
    assert facts["response"][:2] == ("P3 office", 120)
    assert facts["response"][4] == 40
    assert facts["response"][6:8] == ("met", local(1, 9, 40))
    # Resolution under P2 (480 min) from the original start: Mon 09-11 (120) + 14-17 (180),
    # Tue 09-12 (180): breached Tue 12:00; warnings at 360 (Tue 10:00) and 432 (Tue 11:12).
    # Used at the end: 720 until Tuesday's resolution + Wed 10-17 (420) + Thu 09-12 (180).
    # Stood still: the 3 h hold + resolved Tue 16-17 and Wed 09-10.
    name, target, started, due, elapsed, paused, state, completed, breached, warnings = facts[
        "resolution"
    ]
    assert (name, target, started) == ("P2 office", 480, opened)
    assert (elapsed, paused, state) == (1320, 300, "breached")
    assert (completed, breached, warnings) == (local(4, 12), local(2, 12), [75, 90])
    assert due == local(2, 12)
    warning_times = [
        e.occurred_at for e in sla.sla_events(imported, "sla_warning") if e.field == "resolution"
    ]
    assert warning_times == [local(2, 10), local(2, 11, 12)]


def test_backfill_marks_its_events_synthesized_and_escalates_nothing(sla):
    _policies(sla)
    imported = sla.incident(opened_at=local(1, 9), priority=2, source_system="servicenow")
    sla.move(imported, local(3, 9), "in_progress")  # both targets long breached
    incident_flows.backfill_sla(session=sla.session, incident_ids=[imported.id], now=local(3, 10))
    events = sla.sla_events(imported)
    assert {e.kind for e in events} == {"sla_started", "sla_warning", "sla_breached"}
    assert all(e.synthesized and e.actor_label == "sla" for e in events)
    pending = sla.session.scalar(
        select(func.count())
        .select_from(SlaAlert)
        .where(SlaAlert.incident_id == imported.id, SlaAlert.escalated_at.is_(None))
    )
    assert pending == 0


def test_backfill_is_idempotent_and_handles_many_incidents(sla):
    _policies(sla)
    ids = []
    for offset in range(30):
        incident = sla.incident(
            opened_at=local(1, 9) + timedelta(minutes=offset), source_system="servicenow"
        )
        sla.move(incident, local(1, 12), "in_progress")
        sla.move(incident, local(2, 12), "resolved")
        ids.append(incident.id)
    assert incident_flows.backfill_sla(session=sla.session, incident_ids=ids, now=END) == 30
    first = [_sla_event_facts(sla, sla.session.get(type(incident), i)) for i in ids]
    assert incident_flows.backfill_sla(session=sla.session, incident_ids=ids, now=END) == 30
    assert [_sla_event_facts(sla, sla.session.get(type(incident), i)) for i in ids] == first
    timers = sla_timers.timers_for_incidents(session=sla.session, incident_ids=ids)
    # Opened 09:00..09:29, P3: 960 min = two office days; resolved Tue 12:00 -> met for all.
    assert {timers[i][1].state for i in ids} == {"met"}
    assert timers[ids[0]][1].elapsed_minutes == 480 + 180


def test_backfill_reads_the_event_data_the_replay_needs_and_skips_the_rest(sla):
    """The backfill loads only the data keys the replay reads (timeline.DATA_KEYS): a hold
    whose reason is only in the data, and an assignment by a rule, count as they do when the
    live recompute reads the whole log."""
    _policies(sla)
    opened = local(1, 9)

    def imported_history():
        incident = sla.incident(opened_at=opened, priority=3, source_system="servicenow")
        steps = [
            (local(1, 9, 10), "assigned", "assignee", None, "Agent", {"rule_id": 4}),
            (local(1, 10), "state_changed", "state", "assigned", "on_hold", None),
            (local(1, 13), "state_changed", "state", "on_hold", "in_progress", None),
            (local(1, 15), "state_changed", "state", "in_progress", "resolved", None),
        ]
        for position, (when, kind, field, old, new, data) in enumerate(steps, start=2):
            extra = {"hold_reason": "awaiting_caller"} if new == "on_hold" else {}
            sla.event(
                incident,
                when,
                kind,
                field=field,
                old=old,
                new=new,
                actor=sla.agent,
                data={"import_seq": position, **(data or {}), **extra},
            )
        incident.state = "resolved"
        sla.session.flush()
        return incident

    backfilled, recomputed = imported_history(), imported_history()
    incident_flows.backfill_sla(session=sla.session, incident_ids=[backfilled.id], now=END)
    sla.recompute(recomputed, now=END)

    facts = _timer_facts(sla.session, backfilled)
    assert facts == _timer_facts(sla.session, recomputed)
    assert _sla_event_facts(sla, backfilled) == _sla_event_facts(sla, recomputed)
    # The rule's assignment is no touch: the response ends at In Progress, 13:00, after a
    # paused hold of three hours (10:00-13:00): 60 minutes used.
    assert facts["response"][4] == 60
    assert facts["response"][6:8] == ("met", local(1, 13))
