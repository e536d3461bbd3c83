"""Any incident as it was at any past instant: hand-computed cases, the API's rules, the CLI, and
a property: as of now, the replay equals the ticket as the live engine keeps it.

The office calendar works Monday to Friday, 09:00-17:00 in Amsterdam (UTC+1 in early March
2026). 2026-03-02 is a Monday. Targets: P3 responds in 60 and resolves in 480 business minutes,
P2 in 30 and 240; a hold awaiting the caller pauses the clocks.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from operational.core.errors import UnprocessableEntity
from operational.incidents import flows, history
from operational.incidents.schemas import IncidentCreate
from operational.sla import service as sla_service
from operational.sla import timers as sla_timers
from operational.sla import versions
from operational.sla.models import SlaPolicy
from operational.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate
from tests.conftest import assert_problem

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Configuration made long before any of the incidents below.
CONFIGURED = datetime(2025, 1, 1, tzinfo=UTC)
OFFICE_HOURS = {
    day: ["09:00-17:00"] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}
WHOLE_WEEK = {
    day: ["00:00-24:00"]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """March ``day``, 2026, at this Amsterdam wall-clock time."""
    return datetime(2026, 3, day, hour, minute, tzinfo=AMSTERDAM)


class Office:
    """Users, a team, and the office calendar with a P3 and a P2 policy (the seeded defaults
    switched off, through the service, so that their versions say so too)."""

    def __init__(self, session, factory):
        self.session = session
        for policy in session.scalars(select(SlaPolicy).where(SlaPolicy.is_active)).all():
            sla_service.update_policy(
                session=session,
                policy=policy,
                data=PolicyUpdate(is_active=False),
                actor=None,
                now=CONFIGURED,
            )
        self.calendar = sla_service.create_calendar(
            session=session,
            data=CalendarCreate(
                name="Office", timezone="Europe/Amsterdam", weekly_hours=OFFICE_HOURS
            ),
            now=CONFIGURED,
        )
        self.p3 = self.policy("P3 office", priority=3, response=60, resolution=480)
        self.p2 = self.policy("P2 office", priority=2, response=30, resolution=240)
        self.team = factory.team(name="Desk")
        self.agent = factory.user(roles=("agent",), display_name="Ada Agent", teams=[self.team])
        self.other = factory.user(roles=("agent",), display_name="Bo Agent", teams=[self.team])
        self.second_team = factory.team(name="Network")

    def policy(
        self,
        name: str,
        *,
        priority: int,
        response: int,
        resolution: int,
        now: datetime | None = CONFIGURED,
    ) -> SlaPolicy:
        return sla_service.create_policy(
            session=self.session,
            data=PolicyCreate(
                name=name,
                priority=priority,
                calendar_id=self.calendar.id,
                response_minutes=response,
                resolution_minutes=resolution,
            ),
            actor=None,
            now=now,
        )

    def incident(self, opened_at: datetime, *, priority: int = 3):
        return flows.create(
            session=self.session,
            data=IncidentCreate(
                title="VPN drops every hour", priority=priority, priority_reason="as triaged"
            ),
            actor=self.agent,
            now=opened_at,
        ).incident

    def as_of(self, incident, at: datetime) -> history.IncidentAsOf:
        return history.as_of(session=self.session, incident=incident, at=at)


@pytest.fixture
def office(session, factory) -> Office:
    return Office(session, factory)


def timers(past: history.IncidentAsOf) -> dict[str, history.PastTimer]:
    return {timer.outcome.target.value: timer for timer in past.timers}


# ----------------------------------------------------------------------- hand-computed cases


@pytest.fixture
def held(office):
    """Opened Monday 09:00, assigned 09:30 (the first response), on hold awaiting the caller
    11:00-14:00, working again from 14:00."""
    incident = office.incident(local(2, 9))
    flows.assign(
        session=office.session,
        incident=incident,
        actor=office.agent,
        team_id=office.team.id,
        assignee_id=office.agent.id,
        now=local(2, 9, 30),
    )
    flows.transition(
        session=office.session,
        incident=incident,
        actor=office.agent,
        state="on_hold",
        hold_reason="awaiting_caller",
        now=local(2, 11),
    )
    flows.transition(
        session=office.session,
        incident=incident,
        actor=office.agent,
        state="in_progress",
        now=local(2, 14),
    )
    return incident


def test_before_the_assignment(office, held):
    past = office.as_of(held, local(2, 9, 15))
    assert (past.state, past.priority, past.team.id, past.assignee.id) == ("new", 3, None, None)
    response = timers(past)["response"]
    assert response.outcome.state == "running"
    assert (response.outcome.elapsed_minutes, response.remaining_minutes) == (15, 45)
    assert response.breached is False


def test_after_the_assignment_before_the_hold(office, held):
    past = office.as_of(held, local(2, 10))
    assert past.state == "assigned"
    assert (past.team.id, past.team.label) == (office.team.id, "Desk")
    assert (past.assignee.id, past.assignee.label) == (office.agent.id, "Ada Agent")
    found = timers(past)
    assert found["response"].outcome.state == "met"
    assert found["response"].outcome.elapsed_minutes == 30
    resolution = found["resolution"]
    assert resolution.outcome.state == "running"
    assert (resolution.outcome.elapsed_minutes, resolution.outcome.paused_minutes) == (60, 0)
    assert resolution.remaining_minutes == 420
    assert resolution.outcome.due_at == local(2, 17)


def test_during_the_hold(office, held):
    past = office.as_of(held, local(2, 12))
    assert (past.state, past.hold_reason) == ("on_hold", "awaiting_caller")
    resolution = timers(past)["resolution"]
    assert resolution.outcome.state == "paused"
    # 09:00-11:00 counted, 11:00-12:00 stood still; no deadline while paused.
    assert (resolution.outcome.elapsed_minutes, resolution.outcome.paused_minutes) == (120, 60)
    assert resolution.remaining_minutes == 360
    assert resolution.outcome.due_at is None


def test_after_the_hold(office, held):
    past = office.as_of(held, local(2, 15))
    assert (past.state, past.hold_reason) == ("in_progress", None)
    resolution = timers(past)["resolution"]
    assert resolution.outcome.state == "running"
    # 09:00-11:00 and 14:00-15:00 counted; 11:00-14:00 paused.
    assert (resolution.outcome.elapsed_minutes, resolution.outcome.paused_minutes) == (180, 180)
    # 09-11 and 14-17 make 300 by Monday evening; the other 180 end Tuesday 12:00.
    assert resolution.outcome.due_at == local(3, 12)
    # An instant outside working hours counts nothing more: Monday 20:00 is still 300.
    evening = timers(office.as_of(held, local(2, 20)))["resolution"]
    assert evening.outcome.elapsed_minutes == 300


def test_after_a_priority_change(office):
    incident = office.incident(local(2, 9))
    flows.change_priority(
        session=office.session,
        incident=incident,
        actor=office.agent,
        priority=2,
        reason="whole floor affected",
        now=local(2, 10),
    )
    before = office.as_of(incident, local(2, 9, 30))
    assert before.priority == 3
    assert timers(before)["resolution"].outcome.target_minutes == 480
    assert timers(before)["resolution"].outcome.policy.id == office.p3.id

    after = office.as_of(incident, local(2, 11))
    resolution = timers(after)["resolution"]
    assert after.priority == 2
    assert (resolution.outcome.policy.id, resolution.outcome.target_minutes) == (office.p2.id, 240)
    assert (resolution.outcome.elapsed_minutes, resolution.remaining_minutes) == (120, 120)
    assert resolution.outcome.due_at == local(2, 13)

    late = timers(office.as_of(incident, local(2, 14)))["resolution"]
    assert (late.outcome.state, late.breached, late.remaining_minutes) == ("breached", True, 0)
    assert late.outcome.elapsed_minutes == 300
    assert late.outcome.breached_at == local(2, 13)


def test_a_past_instant_keeps_the_calendar_then_in_force(office):
    incident = office.incident(local(2, 9))
    monday_evening = local(2, 19)
    changed_at = local(4, 12)
    sla_service.update_calendar(
        session=office.session,
        calendar=office.calendar,
        data=CalendarUpdate(weekly_hours=WHOLE_WEEK),
        now=changed_at,
    )

    # Monday 19:00 under the office hours then in force: 09:00-17:00, exactly the target.
    then = timers(office.as_of(incident, monday_evening))["resolution"]
    assert (then.outcome.elapsed_minutes, then.breached, then.outcome.state) == (
        480,
        False,
        "running",
    )
    # After the change the whole week counts, from the opening on: 600 minutes by Monday 19:00
    # would be a breach, and the live timer (a replay with today's calendar) shows it.
    later = timers(office.as_of(incident, changed_at + timedelta(minutes=1)))["resolution"]
    assert later.breached is True
    assert later.outcome.breached_at == local(2, 17)

    history_rows = versions.calendar_history(session=office.session, calendar_id=office.calendar.id)
    assert [(row.version, row.valid_from, row.valid_to) for row in history_rows] == [
        (1, CONFIGURED, changed_at),
        (2, changed_at, None),
    ]
    assert history_rows[0].weekly_hours == OFFICE_HOURS


def test_a_past_instant_keeps_the_policy_version_then_in_force(office):
    incident = office.incident(local(2, 9))
    changed_at = local(3, 9)
    sla_service.update_policy(
        session=office.session,
        policy=office.p3,
        data=PolicyUpdate(resolution_minutes=960, name="P3 office, two days"),
        actor=None,
        now=changed_at,
    )
    then = timers(office.as_of(incident, local(2, 12)))["resolution"]
    assert (then.outcome.target_minutes, then.outcome.policy.name) == (480, "P3 office")
    assert then.remaining_minutes == 300
    now = timers(office.as_of(incident, local(3, 10)))["resolution"]
    assert (now.outcome.target_minutes, now.outcome.policy.name) == (960, "P3 office, two days")
    # Monday 09-17 and Tuesday 09-10.
    assert (now.outcome.elapsed_minutes, now.remaining_minutes) == (540, 420)
    assert [
        (row.version, row.resolution_minutes, row.valid_to)
        for row in versions.policy_history(session=office.session, policy_id=office.p3.id)
    ] == [(1, 480, changed_at), (2, 960, None)]


def test_unchanged_content_records_no_version(office):
    sla_service.update_policy(
        session=office.session,
        policy=office.p3,
        data=PolicyUpdate(response_minutes=60, description="same targets, new words"),
        actor=None,
    )
    assert len(versions.policy_history(session=office.session, policy_id=office.p3.id)) == 1


def test_a_policy_created_later_was_not_in_force_before(office):
    incident = office.incident(local(2, 9), priority=4)
    assert office.as_of(incident, local(2, 10)).timers == []
    office.policy("P4 office", priority=4, response=120, resolution=960, now=None)  # the clock
    assert office.as_of(incident, local(2, 10)).timers == []
    assert len(office.as_of(incident, datetime.now(UTC)).timers) == 2


def test_instants_before_opening_or_in_the_future_are_refused(office):
    incident = office.incident(local(2, 9))
    with pytest.raises(UnprocessableEntity, match="was opened at"):
        office.as_of(incident, local(2, 8, 59))
    with pytest.raises(UnprocessableEntity, match="future"):
        office.as_of(incident, datetime.now(UTC) + timedelta(minutes=5))
    # Without a zone an instant is UTC: 08:00 UTC is 09:00 in Amsterdam, the opening.
    assert office.as_of(incident, datetime(2026, 3, 2, 8, 0)).state == "new"


# ---------------------------------------------------------------------------------- the API


def url(incident) -> str:
    return f"/api/v1/incidents/{incident.id}/as-of"


def test_api_as_of(client, factory, office, held):
    headers = factory.auth_headers(office.agent)
    response = client.get(url(held), params={"at": "2026-03-02T11:00:00Z"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["number"] == held.number
    assert (body["state"], body["hold_reason"], body["priority"]) == (
        "on_hold",
        "awaiting_caller",
        3,
    )
    assert (body["assignment_group"], body["assignee"]) == ("Desk", "Ada Agent")
    resolution = {timer["target"]: timer for timer in body["sla_timers"]}["resolution"]
    assert resolution == resolution | {
        "state": "paused",
        "elapsed_minutes": 120.0,
        "paused_minutes": 60.0,
        "remaining_minutes": 360.0,
        "breached": False,
        "due_at": None,
        "policy_name": "P3 office",
    }
    by_number = client.get(
        f"/api/v1/incidents/{held.number}/as-of",
        params={"at": "2026-03-02T11:00Z"},
        headers=headers,
    )
    assert by_number.json() == body


def test_api_refusals(client, factory, office, held):
    headers = factory.auth_headers(office.agent)
    before = client.get(url(held), params={"at": "2026-03-01T12:00:00Z"}, headers=headers)
    assert "was opened at" in assert_problem(before, 422)["detail"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (
        "future"
        in assert_problem(client.get(url(held), params={"at": future}, headers=headers), 422)[
            "detail"
        ]
    )
    assert_problem(client.get(url(held), headers=headers), 422)
    assert_problem(client.get(url(held), params={"at": "yesterday"}, headers=headers), 422)
    missing = client.get(
        "/api/v1/incidents/999999999/as-of", params={"at": "2026-03-02T11:00Z"}, headers=headers
    )
    assert_problem(missing, 404)
    assert_problem(client.get(url(held), params={"at": "2026-03-02T11:00Z"}), 401)


def test_api_follows_the_object_rules(client, factory, office, held):
    at = {"at": "2026-03-02T12:00:00Z"}
    stranger = factory.auth_headers(factory.user(roles=("requester",)))
    assert_problem(client.get(url(held), params=at, headers=stranger), 404)
    # The requester who raised it (here: the agent's own incident) sees it; so does a manager.
    manager = factory.auth_headers(factory.user(roles=("manager",)))
    assert client.get(url(held), params=at, headers=manager).status_code == 200


# ------------------------------------------------------------------------- the property


STEP = st.integers(min_value=1, max_value=900)  # minutes between two actions


def _actions(state: str) -> list[str]:
    return {
        "new": ["assign", "priority", "work"],
        "assigned": ["assign", "priority", "work", "hold", "resolve"],
        "in_progress": ["assign", "priority", "hold", "resolve"],
        "on_hold": ["priority", "resume", "resolve", "hold_other"],
        "resolved": ["reopen"],
    }[state]


def _act(office: Office, incident, action: str, draw, now: datetime) -> None:
    session, agent = office.session, office.agent
    if action == "assign":
        # A team alone only while nobody needs to work it yet; else a person of the desk.
        choices = [(office.team, office.agent), (office.team, office.other)]
        if incident.state == "new":
            choices.append((office.second_team, None))
        team, assignee = draw(st.sampled_from(choices))
        flows.assign(
            session=session,
            incident=incident,
            actor=agent,
            team_id=team.id,
            assignee_id=assignee.id if assignee else None,
            auto_pick=False,
            now=now,
        )
    elif action == "priority":
        flows.change_priority(
            session=session,
            incident=incident,
            actor=agent,
            priority=draw(st.sampled_from([2, 3])),
            reason="re-triaged",
            now=now,
        )
    elif action in ("work", "resume"):
        if incident.assignee_id is None:
            flows.assign(
                session=session,
                incident=incident,
                actor=agent,
                team_id=office.team.id,
                assignee_id=agent.id,
                now=now,
            )
        flows.transition(
            session=session, incident=incident, actor=agent, state="in_progress", now=now
        )
    elif action in ("hold", "hold_other"):
        reason = draw(st.sampled_from(["awaiting_caller", "awaiting_vendor"]))
        flows.transition(
            session=session,
            incident=incident,
            actor=agent,
            state="on_hold",
            hold_reason=reason,
            now=now,
        )
    elif action == "resolve":
        flows.transition(
            session=session,
            incident=incident,
            actor=agent,
            state="resolved",
            resolution_code="solved_permanently",
            resolution_notes="Replaced the tunnel's certificate",
            now=now,
        )
    elif action == "reopen":
        flows.reopen(session=session, incident=incident, actor=agent, reason="again", now=now)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_as_of_now_equals_the_ticket(office, data):
    """For generated histories driven through the real flows: the replay as of the last
    instant gives the ticket's state, priority, team, assignee and stored SLA timers."""
    start = local(2, 8) + timedelta(minutes=data.draw(st.integers(0, 7 * 24 * 60), label="start"))
    incident = office.incident(start, priority=data.draw(st.sampled_from([2, 3]), label="p"))
    now = start
    for _ in range(data.draw(st.integers(0, 8), label="steps")):
        now += timedelta(minutes=data.draw(STEP, label="gap"))
        action = data.draw(st.sampled_from(_actions(incident.state)), label="action")
        _act(office, incident, action, data.draw, now)
    # The worker's view later on: the live timers recomputed then.
    now += timedelta(minutes=data.draw(st.integers(0, 3000), label="until"))
    stored = {
        timer.target: timer
        for timer in sla_timers.recompute_timers(session=office.session, incident=incident, now=now)
    }

    past = office.as_of(incident, now)
    office.session.refresh(incident)  # its team and assignee relationships as stored

    assert (past.state, past.hold_reason, past.priority) == (
        incident.state,
        incident.hold_reason,
        incident.priority,
    )
    assert (past.team.id, past.assignee.id) == (incident.assignment_group_id, incident.assignee_id)
    assert past.team.label == (
        incident.assignment_group.name if incident.assignment_group else None
    )
    replayed = timers(past)
    assert sorted(replayed) == sorted(stored)
    for target, timer in stored.items():
        outcome = replayed[target].outcome
        assert (
            outcome.policy.id,
            outcome.target_minutes,
            outcome.state.value,
            outcome.started_at,
            outcome.due_at,
            outcome.completed_at,
            outcome.breached_at,
            outcome.warnings_fired,
        ) == (
            timer.policy_id,
            timer.target_minutes,
            timer.state,
            timer.started_at,
            timer.due_at,
            timer.completed_at,
            timer.breached_at,
            list(timer.warnings_fired),
        )
        assert outcome.elapsed_minutes == pytest.approx(timer.elapsed_minutes)
        assert outcome.paused_minutes == pytest.approx(timer.paused_minutes)
        assert replayed[target].breached == (timer.elapsed_minutes > timer.target_minutes)


def test_api_lists_versions(client, factory, office):
    sla_service.update_calendar(
        session=office.session,
        calendar=office.calendar,
        data=CalendarUpdate(added_holidays=["2026-03-04"]),
        now=local(3, 12),
    )
    headers = factory.auth_headers(office.agent)
    calendar = client.get(f"/api/v1/sla/calendars/{office.calendar.id}/versions", headers=headers)
    assert calendar.status_code == 200, calendar.text
    assert [
        (
            item["version"],
            item["added_holidays"],
            item["valid_to"] and datetime.fromisoformat(item["valid_to"]),
        )
        for item in calendar.json()["items"]
    ] == [(1, [], local(3, 12)), (2, ["2026-03-04"], None)]
    policy = client.get(f"/api/v1/sla/policies/{office.p3.id}/versions", headers=headers)
    assert [(item["version"], item["resolution_minutes"]) for item in policy.json()["items"]] == [
        (1, 480)
    ]
