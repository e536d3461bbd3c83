"""A small hand-made history for the dbt tests, written in two phases with real commits.

Phase one (March 2026, UTC): INC-A is acknowledged by an assignment, resolved, reopened by its
requester, resolved again and closed; INC-B is reassigned to another team and waits on the caller
from Friday 16:00 to Monday 10:00; INC-C (imported, ServiceNow said made_sla) is acknowledged and
in progress, its resolution timer already breached. A normal change goes through its CAB.

Phase two, recorded later: INC-C is resolved and rated, INC-D is cancelled, INC-E is opened and
worked, INC-F (resolved in April in phase one) is reopened, and an emergency change that caused
INC-C is closed without a retrospective review.

Every metric the tests check is computed by hand from these facts. SLA timers are written as the
Python SLA engine would leave them (its own tests prove its arithmetic); dbt only reads them.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from operational.auth.models import Team, User
from operational.changes.models import Change, ChangeApproval
from operational.events import service as events
from operational.incidents.models import CsatSurvey, Incident
from operational.sla.models import SlaCalendar, SlaPolicy, SlaTimer
from tests.factories import Factory


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of March 2026 in UTC (2 March is a Monday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class People:
    alice: User
    bob: User
    rita: User
    adam: User
    audrey: User
    desk: Team
    network: Team


class History:
    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=pool.NullPool)

    def phase_one(self) -> None:
        with Session(self.engine) as session:
            people = self._people(session)
            policy = self._policy(session)
            self._incident_a(session, people)
            self._incident_b(session, people, policy)
            self._incident_c_opened(session, people, policy)
            self._incident_f_resolved(session, people)
            self._normal_change(session, people)
            session.commit()

    def phase_two(self) -> None:
        with Session(self.engine) as session:
            people = self._load_people(session)
            self._incident_c_resolved(session, people)
            self._incident_d(session, people)
            self._incident_e(session, people)
            self._incident_f_reopened(session, people)
            self._emergency_change(session, people)
            session.commit()

    def dispose(self) -> None:
        self.engine.dispose()

    # --- people, teams, SLA policy -----------------------------------------------------------

    def _people(self, session: Session) -> People:
        factory = Factory(session)
        desk = factory.team(name="Service Desk")
        network = factory.team(name="Network")
        return People(
            alice=factory.user(
                roles=("agent",), email="alice@example.com", display_name="Alice", teams=(desk,)
            ),
            bob=factory.user(
                roles=("agent",), email="bob@example.com", display_name="Bob", teams=(network,)
            ),
            rita=factory.user(roles=("requester",), email="rita@example.com", display_name="Rita"),
            adam=factory.user(roles=("admin",), email="adam@example.com", display_name="Adam"),
            audrey=factory.user(
                roles=("auditor",),
                email="audrey@example.com",
                display_name="Audrey",
                mfa_enabled=True,
            ),
            desk=desk,
            network=network,
        )

    def _load_people(self, session: Session) -> People:
        def user(email: str) -> User:
            return session.scalars(select(User).where(User.email == email)).one()

        def team(name: str) -> Team:
            return session.scalars(select(Team).where(Team.name == name)).one()

        return People(
            alice=user("alice@example.com"),
            bob=user("bob@example.com"),
            rita=user("rita@example.com"),
            adam=user("adam@example.com"),
            audrey=user("audrey@example.com"),
            desk=team("Service Desk"),
            network=team("Network"),
        )

    def _policy(self, session: Session) -> SlaPolicy:
        office = ["09:00-17:00"]
        calendar = SlaCalendar(
            name="Office hours",
            timezone="UTC",
            weekly_hours={day: office for day in ("monday", "tuesday", "wednesday", "thursday")}
            | {"friday": office},
        )
        session.add(calendar)
        session.flush()
        policy = SlaPolicy(
            name="Standard",
            calendar_id=calendar.id,
            response_minutes=60,
            resolution_minutes=480,
            pause_on=[{"state": "on_hold", "hold_reason": "awaiting_caller"}],
            warning_thresholds=[75, 90],
        )
        session.add(policy)
        session.flush()
        return policy

    # --- helpers --------------------------------------------------------------------------------

    def _incident(self, session: Session, number: str, **fields: Any) -> Incident:
        defaults: dict[str, Any] = {
            "title": f"{number} title",
            "impact": 2,
            "urgency": 2,
            "priority": 3,
            "channel": "email",
        }
        incident = Incident(number=number, **(defaults | fields))
        session.add(incident)
        session.flush()
        self._event(session, incident, incident.opened_at, None, "created", new=number)
        return incident

    def _event(
        self,
        session: Session,
        incident: Incident,
        occurred_at: datetime,
        actor: User | None,
        kind: str,
        *,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        events.append(
            session=session,
            entity_type="incident",
            entity_id=incident.id,
            kind=kind,
            actor=actor,
            field=field,
            old_value=old,
            new_value=new,
            data=data,
            occurred_at=occurred_at,
        )

    def _state(self, session, incident, occurred_at, actor, old, new, **data) -> None:
        self._event(
            session,
            incident,
            occurred_at,
            actor,
            "state_changed",
            field="state",
            old=old,
            new=new,
            data=data or None,
        )

    def _group(self, session, incident, occurred_at, actor, old: Team | None, new: Team) -> None:
        self._event(
            session,
            incident,
            occurred_at,
            actor,
            "assigned",
            field="assignment_group",
            old=old.name if old else None,
            new=new.name,
            data={"old_id": old.id if old else None, "new_id": new.id},
        )

    def _assignee(self, session, incident, occurred_at, actor, person: User) -> None:
        self._event(
            session,
            incident,
            occurred_at,
            actor,
            "assigned",
            field="assignee",
            new=person.display_name,
            data={"new_id": person.id},
        )

    def _survey(self, session, incident, opened_at, answered_at=None, rating=None) -> None:
        session.add(
            CsatSurvey(
                incident_id=incident.id,
                requester_id=incident.requester_id,
                token_hash=f"{incident.number}-{opened_at.isoformat()}",
                opened_at=opened_at,
                expires_at=at(31, 0),
                answered_at=answered_at,
                rating=rating,
            )
        )
        if answered_at is not None:
            self._event(
                session,
                incident,
                answered_at,
                None,
                "csat_answered",
                new=rating,
                data={"rating": rating},
            )

    def _timer(self, session, incident, policy, target: str, **fields: Any) -> None:
        fields.setdefault("target_minutes", 60 if target == "response" else 480)
        fields.setdefault("computed_at", fields.get("completed_at") or at(9, 13))
        session.add(
            SlaTimer(
                incident_id=incident.id,
                target=target,
                policy_id=policy.id,
                started_at=incident.opened_at,
                **fields,
            )
        )

    # --- incidents ------------------------------------------------------------------------------

    def _incident_a(self, session: Session, people: People) -> None:
        """Acknowledged by Alice's assignment after 10 minutes; resolved at 10:00, reopened by
        Rita at 11:00, resolved again at 12:00 (MTTR 180 minutes), closed on Thursday."""
        incident = self._incident(
            session,
            "INC-A",
            opened_at=at(2, 9),
            state="closed",
            requester_id=people.rita.id,
            assignment_group_id=people.desk.id,
            assignee_id=people.alice.id,
            category="Email",
            service="Mail",
        )
        self._group(session, incident, at(2, 9), None, None, people.desk)
        self._assignee(session, incident, at(2, 9, 10), people.alice, people.alice)
        self._state(session, incident, at(2, 9, 10), people.alice, "new", "assigned")
        self._state(session, incident, at(2, 9, 30), people.alice, "assigned", "in_progress")
        self._state(session, incident, at(2, 10), people.alice, "in_progress", "resolved")
        self._survey(session, incident, at(2, 10), answered_at=at(2, 10, 30), rating=5)
        self._state(
            session, incident, at(2, 11), people.rita, "resolved", "in_progress", reopen=True
        )
        self._state(session, incident, at(2, 12), people.alice, "in_progress", "resolved")
        self._survey(session, incident, at(2, 12))
        self._state(session, incident, at(5, 12), None, "resolved", "closed")

    def _incident_b(self, session: Session, people: People, policy: SlaPolicy) -> None:
        """Opened Friday 15:00, acknowledged by Alice's public comment at 15:05, moved to the
        Network team, on hold awaiting the caller from Friday 16:00 to Monday 10:00, resolved
        Monday 11:00: 4080 calendar minutes, 240 business minutes on 09:00-17:00."""
        incident = self._incident(
            session,
            "INC-B",
            opened_at=at(6, 15),
            state="resolved",
            requester_id=people.rita.id,
            assignment_group_id=people.network.id,
            assignee_id=people.bob.id,
            category="Network",
            service="VPN",
            channel="phone",
        )
        self._group(session, incident, at(6, 15), None, None, people.desk)
        self._event(
            session, incident, at(6, 15, 5), people.alice, "comment_added", data={"comment_id": 1}
        )
        self._group(session, incident, at(6, 15, 20), people.alice, people.desk, people.network)
        self._assignee(session, incident, at(6, 15, 30), people.bob, people.bob)
        self._state(session, incident, at(6, 15, 30), people.bob, "new", "assigned")
        self._state(session, incident, at(6, 15, 40), people.bob, "assigned", "in_progress")
        self._state(
            session,
            incident,
            at(6, 16),
            people.bob,
            "in_progress",
            "on_hold",
            hold_reason="awaiting_caller",
        )
        self._event(
            session,
            incident,
            at(6, 16),
            people.bob,
            "field_changed",
            field="hold_reason",
            new="awaiting_caller",
        )
        self._state(session, incident, at(9, 10), people.bob, "on_hold", "in_progress")
        self._event(
            session,
            incident,
            at(9, 10),
            people.bob,
            "field_changed",
            field="hold_reason",
            old="awaiting_caller",
            new=None,
        )
        self._state(session, incident, at(9, 11), people.bob, "in_progress", "resolved")
        self._survey(session, incident, at(9, 11), answered_at=at(9, 12), rating=4)
        self._timer(
            session,
            incident,
            policy,
            "response",
            state="met",
            completed_at=at(6, 15, 5),
            due_at=at(9, 9),
            elapsed_minutes=5,
            paused_minutes=0,
        )
        # Friday 15:00-16:00 and Monday 10:00-11:00 ran; Friday 16:00-17:00 and Monday
        # 09:00-10:00 were paused (awaiting the caller); the weekend is not business time.
        self._timer(
            session,
            incident,
            policy,
            "resolution",
            state="met",
            completed_at=at(9, 11),
            due_at=at(10, 16),
            elapsed_minutes=120,
            paused_minutes=120,
        )

    def _incident_c_opened(self, session: Session, people: People, policy: SlaPolicy) -> None:
        """Imported from ServiceNow (made_sla true). Rita comments first (not an
        acknowledgement); Alice assigns Bob at 08:30: acknowledged after 30 minutes. The P2
        resolution target, 240 business minutes from Monday 09:00, fell due at 13:00, when the
        engine recorded the breach."""
        incident = self._incident(
            session,
            "INC-C",
            opened_at=at(9, 8),
            state="in_progress",
            requester_id=people.rita.id,
            assignment_group_id=people.network.id,
            assignee_id=people.bob.id,
            category="Network",
            service="VPN",
            channel="portal",
            priority=2,
            source_system="servicenow",
            external_id="INC0099001",
            source_made_sla=True,
        )
        self._group(session, incident, at(9, 8), None, None, people.network)
        self._event(
            session, incident, at(9, 8, 5), people.rita, "comment_added", data={"comment_id": 2}
        )
        self._assignee(session, incident, at(9, 8, 30), people.alice, people.bob)
        self._state(session, incident, at(9, 8, 30), people.alice, "new", "assigned")
        self._state(session, incident, at(9, 8, 40), people.bob, "assigned", "in_progress")
        self._timer(
            session,
            incident,
            policy,
            "response",
            state="met",
            completed_at=at(9, 8, 30),
            due_at=at(9, 10),
            elapsed_minutes=30,
            paused_minutes=0,
        )
        self._timer(
            session,
            incident,
            policy,
            "resolution",
            state="breached",
            due_at=at(9, 13),
            breached_at=at(9, 13),
            elapsed_minutes=240,
            paused_minutes=0,
            target_minutes=240,
        )

    def _incident_c_resolved(self, session: Session, people: People) -> None:
        """Resolved Tuesday 16:00: 1920 calendar minutes after opening, 900 business minutes
        (Monday 09:00-17:00 and Tuesday 09:00-16:00). Rated 2 on Wednesday."""
        incident = session.scalars(select(Incident).where(Incident.number == "INC-C")).one()
        incident.state = "resolved"
        self._state(session, incident, at(10, 16), people.bob, "in_progress", "resolved")
        timer = session.scalars(
            select(SlaTimer).where(
                SlaTimer.incident_id == incident.id, SlaTimer.target == "resolution"
            )
        ).one()
        timer.completed_at = at(10, 16)
        timer.elapsed_minutes = 900
        timer.computed_at = at(10, 16)
        self._survey(session, incident, at(10, 16), answered_at=at(11, 9), rating=2)

    def _incident_d(self, session: Session, people: People) -> None:
        """Cancelled half an hour after opening: never acknowledged, never resolved."""
        incident = self._incident(
            session,
            "INC-D",
            opened_at=at(9, 9),
            state="cancelled",
            requester_id=people.rita.id,
            assignment_group_id=people.desk.id,
            category="Email",
            service="Mail",
            priority=4,
        )
        self._state(session, incident, at(9, 9, 30), people.alice, "new", "cancelled")

    def _incident_e(self, session: Session, people: People) -> None:
        """Opened Tuesday 09:00, moved to in progress at 10:00 (acknowledged after 60 minutes),
        still open."""
        incident = self._incident(
            session,
            "INC-E",
            opened_at=at(10, 9),
            state="in_progress",
            requester_id=people.rita.id,
            assignment_group_id=people.desk.id,
            category="Email",
            service="Mail",
        )
        self._group(session, incident, at(10, 9), None, None, people.desk)
        self._state(session, incident, at(10, 10), people.alice, "new", "in_progress")

    def _incident_f_resolved(self, session: Session, people: People) -> None:
        """In April: acknowledged and resolved on Monday 6 April (phase one)..."""
        incident = self._incident(
            session,
            "INC-F",
            opened_at=at(6, 9).replace(month=4),
            state="resolved",
            requester_id=people.rita.id,
            assignment_group_id=people.desk.id,
            assignee_id=people.alice.id,
            category="Email",
            service="Mail",
        )
        self._assignee(session, incident, at(6, 9, 5).replace(month=4), people.alice, people.alice)
        self._state(
            session, incident, at(6, 9, 5).replace(month=4), people.alice, "new", "assigned"
        )
        self._state(
            session, incident, at(6, 10).replace(month=4), people.alice, "assigned", "resolved"
        )

    def _incident_f_reopened(self, session: Session, people: People) -> None:
        """...and reopened on Tuesday (phase two): April has no resolved incident any more."""
        incident = session.scalars(select(Incident).where(Incident.number == "INC-F")).one()
        incident.state = "in_progress"
        self._state(
            session, incident, at(7, 9).replace(month=4), people.rita, "resolved", "in_progress"
        )

    # --- changes --------------------------------------------------------------------------------

    def _change_event(self, session, change, occurred_at, actor, kind, **fields) -> None:
        events.append(
            session=session,
            entity_type="change",
            entity_id=change.id,
            kind=kind,
            actor=actor,
            occurred_at=occurred_at,
            **fields,
        )

    def _normal_change(self, session: Session, people: People) -> None:
        """Approved by a quorum of two, implemented inside its window, closed successful."""
        change = Change(
            number="CHG-1",
            title="Upgrade the mail relay",
            change_type="normal",
            state="closed",
            requester_id=people.rita.id,
            assignment_group_id=people.desk.id,
            planned_start=at(4, 20),
            planned_end=at(4, 22),
            actual_start=at(4, 20, 5),
            actual_end=at(4, 21),
            review_outcome="successful",
            review_caused_incidents=False,
            opened_at=at(2, 9),
            closed_at=at(5, 9),
            cab_stage="authorization",
            cab_round=1,
            cab_rule="quorum",
            cab_quorum=2,
            cab_outcome="approved",
        )
        session.add(change)
        session.flush()
        self._change_event(
            session,
            change,
            at(3, 9),
            people.rita,
            "field_changed",
            field="cab_outcome",
            new_value="pending",
            data={"stage": "authorization", "round": 1, "rule": "quorum", "quorum": 2},
        )
        for minute, approver in ((0, people.adam), (30, people.audrey)):
            session.add(
                ChangeApproval(
                    change_id=change.id,
                    stage="authorization",
                    round=1,
                    approver_id=approver.id,
                    decision="approved",
                    comment="Fine",
                    decided_at=at(3, 10, minute),
                )
            )
        self._change_event(
            session,
            change,
            at(3, 10, 30),
            people.audrey,
            "field_changed",
            field="cab_outcome",
            old_value="pending",
            new_value="approved",
            data={"stage": "authorization", "round": 1},
        )

    def _emergency_change(self, session: Session, people: People) -> None:
        """Approved by the emergency CAB, started before its planned window, caused INC-C, and
        closed without a retrospective review."""
        change = Change(
            number="CHG-2",
            title="Hotfix the VPN concentrator",
            change_type="emergency",
            state="closed",
            requester_id=people.alice.id,
            assignment_group_id=people.network.id,
            planned_start=at(9, 7),
            planned_end=at(9, 8),
            actual_start=at(9, 6, 30),
            actual_end=at(9, 7, 30),
            review_outcome="successful",
            review_caused_incidents=False,
            opened_at=at(9, 6),
            closed_at=at(12, 9),
            cab_stage="authorization",
            cab_round=1,
            cab_rule="any",
            cab_outcome="approved",
        )
        session.add(change)
        session.flush()
        self._change_event(
            session,
            change,
            at(9, 6, 10),
            people.alice,
            "field_changed",
            field="cab_outcome",
            new_value="pending",
            data={"stage": "authorization", "round": 1, "rule": "any"},
        )
        session.add(
            ChangeApproval(
                change_id=change.id,
                stage="authorization",
                round=1,
                approver_id=people.adam.id,
                decision="approved",
                comment="Go",
                decided_at=at(9, 6, 20),
            )
        )
        self._change_event(
            session,
            change,
            at(9, 6, 20),
            people.adam,
            "field_changed",
            field="cab_outcome",
            old_value="pending",
            new_value="approved",
            data={"stage": "authorization", "round": 1},
        )
        incident = session.scalars(select(Incident).where(Incident.number == "INC-C")).one()
        incident.caused_by_change_id = change.id
        self._event(
            session,
            incident,
            at(12, 9),
            people.bob,
            "field_changed",
            field="caused_by_change",
            new="CHG-2",
            data={"change_id": change.id},
        )
