"""A small hand-made history of problems and knowledge for the dbt tests, written through the
operational services with fixed times (March 2026, UTC; 2 March is a Monday), in two phases
with real commits.

Phase one:
- INC-1 opened 2 Mar 09:00, resolved 12:00 (180 minutes), linked to PRB-1;
- INC-2 opened 3 Mar 09:00, resolved 10:00 with article KB-A (60 minutes);
- INC-3 opened 5 Mar 09:00, still open, linked to PRB-1;
- PRB-1 opened 2 Mar 10:00, root cause recorded 4 Mar 10:00 (2,880 minutes), published as a
  known error 4 Mar 11:00, resolved 9 Mar 10:00 (10,080 minutes);
- PRB-2 opened 6 Mar 09:00, assessed, open;
- KB-A published 1 Mar 10:00 with a 5-day review period (due 6 Mar: out of date by 12 Mar),
  used on INC-2, rated helpful by one reader and not by another; KB-B published 2 Mar, never
  used.

Phase two, recorded later: INC-4 opened 12 Mar 08:00 and linked to PRB-1 (after its fix: a
recurrence), and PRB-2 closed on 11 Mar 09:00 as a duplicate.
"""

from datetime import UTC, datetime

from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.incidents import flows as incident_flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate
from operational.knowledge import flows as knowledge_flows
from operational.knowledge import service as knowledge
from operational.knowledge.enums import ReviewDecision
from operational.knowledge.schemas import ArticleCreate, UseCreate
from operational.problems import flows as problem_flows
from operational.problems import service as problems
from operational.problems.models import Problem
from operational.problems.schemas import ProblemCreate, ProblemUpdate
from tests.factories import Factory


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


class ProblemHistory:
    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=pool.NullPool)

    def dispose(self) -> None:
        self.engine.dispose()

    def _incident(self, session, agent, title: str, opened, resolved=None) -> Incident:
        incident = incident_flows.create(
            session=session,
            data=IncidentCreate(
                title=title,
                service="Mail",
                category="Email",
                assignee_id=agent.id,
                configuration_item="mail-01",
            ),
            actor=agent,
            now=opened,
        ).incident
        if resolved is not None:
            incident_flows.transition(
                session=session,
                incident=incident,
                actor=agent,
                state="resolved",
                resolution_code="solved_permanently",
                resolution_notes="Fixed",
                now=resolved,
            )
        return incident

    def _published(self, session, author, reviewer, title: str, when, review_days: int):
        article = knowledge.create(
            session=session,
            data=ArticleCreate(
                title=title, body="Steps.", audience="everyone", review_period_days=review_days
            ),
            actor=author,
            now=when,
        )
        article = knowledge.submit(
            session=session,
            article=article,
            expected_version=article.version,
            actor=author,
            now=when,
        )
        return knowledge.review(
            session=session,
            article=article,
            decision=ReviewDecision.approved,
            expected_version=article.version,
            actor=reviewer,
            now=when,
        )

    def phase_one(self) -> None:
        with Session(self.engine) as session:
            factory = Factory(session)
            team = factory.team(name="Messaging")
            agent = factory.user(roles=("agent",), teams=(team,), email="agent@example.com")
            reviewer = factory.user(roles=("manager",), email="reviewer@example.com")
            readers = [factory.user(roles=("requester",)) for _ in range(2)]

            article_a = self._published(session, agent, reviewer, "KB-A Mail quota", at(1, 10), 5)
            self._published(session, agent, reviewer, "KB-B Calendar sharing", at(2, 10), 365)

            first = self._incident(session, agent, "INC-1 mail down", at(2, 9), at(2, 12))
            second = self._incident(session, agent, "INC-2 mailbox full", at(3, 9))
            knowledge_flows.record_use(
                session=session,
                article=article_a,
                data=UseCreate(incident_id=second.id, resolve=True),
                actor=agent,
                now=at(3, 10),
            )
            for reader, helpful in zip(readers, (True, False), strict=True):
                knowledge.give_feedback(
                    session=session, article=article_a, viewer=reader, helpful=helpful, now=at(4, 9)
                )
            third = self._incident(session, agent, "INC-3 mail slow", at(5, 9))

            one = problem_flows.create(
                session=session,
                data=ProblemCreate(
                    title="PRB-1 mail store",
                    service="Mail",
                    category="Email",
                    assignment_group_id=team.id,
                    incident_ids=[first.id],
                ),
                actor=agent,
                now=at(2, 10),
            )
            for state, when in (("assessed", at(2, 11)), ("root_cause_analysis", at(3, 9))):
                one = problems.transition(
                    session=session,
                    problem=one,
                    target=state,
                    expected_version=one.version,
                    actor=agent,
                    now=when,
                )
            one = problems.update(
                session=session,
                problem=one,
                data=ProblemUpdate(
                    root_cause="Store full",
                    root_cause_category="capacity",
                    workaround="Archive old mail",
                    fix_notes="Store extended",
                ),
                expected_version=one.version,
                actor=agent,
                now=at(4, 10),
            )
            one = problems.publish_known_error(
                session=session,
                problem=one,
                expected_version=one.version,
                actor=agent,
                now=at(4, 11),
            )
            problem_flows.link_incident(
                session=session, problem=one, incident_id=third.id, actor=agent, now=at(5, 10)
            )
            for state, when in (("fix_in_progress", at(5, 12)), ("resolved", at(9, 10))):
                one = problems.transition(
                    session=session,
                    problem=one,
                    target=state,
                    expected_version=one.version,
                    actor=agent,
                    now=when,
                )
            two = problem_flows.create(
                session=session,
                data=ProblemCreate(
                    title="PRB-2 calendar",
                    service="Mail",
                    category="Calendar",
                    assignment_group_id=team.id,
                ),
                actor=agent,
                now=at(6, 9),
            )
            problems.transition(
                session=session,
                problem=two,
                target="assessed",
                expected_version=two.version,
                actor=agent,
                now=at(6, 10),
            )
            session.commit()

    def phase_two(self) -> None:
        with Session(self.engine) as session:
            agent = session.scalar(select(User).where(User.email == "agent@example.com"))
            one = session.scalar(select(Problem).where(Problem.title == "PRB-1 mail store"))
            two = session.scalar(select(Problem).where(Problem.title == "PRB-2 calendar"))
            fourth = self._incident(session, agent, "INC-4 mail down again", at(12, 8))
            problem_flows.link_incident(
                session=session, problem=one, incident_id=fourth.id, actor=agent, now=at(12, 9)
            )
            problems.transition(
                session=session,
                problem=two,
                target="closed",
                expected_version=two.version,
                actor=agent,
                reason="Duplicate of PRB-1",
                now=at(11, 9),
            )
            session.commit()
