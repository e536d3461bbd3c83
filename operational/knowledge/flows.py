"""Knowledge flows: where articles meet incidents and problems, in one transaction.

router ──> flows ──> knowledge.service
                 ├─> incidents.flows (resolving with an article: SLA timers follow)
                 ├─> incidents.links (the incident's side of an article's use)
                 └─> incidents.service, problems.service (reading the ticket to draft from)
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.errors import NotFound, UnprocessableEntity
from operational.incidents import flows as incident_flows
from operational.incidents import links as incident_links
from operational.incidents import service as incidents_service
from operational.incidents.enums import IncidentState, ResolutionCode
from operational.knowledge import service
from operational.knowledge.exceptions import NothingToDraftFrom
from operational.knowledge.models import Article, ArticleUse
from operational.knowledge.schemas import ArticleCreate, UseCreate
from operational.problems import service as problems_service


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def record_use(
    *,
    session: Session,
    article: Article,
    data: UseCreate,
    actor: User,
    now: datetime | None = None,
) -> ArticleUse:
    """Record that the article helped with the incident, on both records; with ``resolve``,
    resolve the incident with it (through the incident flows: survey and SLA timers follow)."""
    now = _now(now)
    incident = _incident(session, data.incident_id)
    use = service.record_use(
        session=session, article=article, incident_id=incident.id, resolved=data.resolve,
        actor=actor, now=now,
    )  # fmt: skip
    if data.resolve and incident.state != IncidentState.resolved:
        code = data.resolution_code or ResolutionCode.solved_workaround.value
        if code not in {item.value for item in ResolutionCode}:
            raise UnprocessableEntity(
                f"Unknown resolution_code {code!r}",
                field="resolution_code",
                allowed=[item.value for item in ResolutionCode],
            )
        incident_flows.transition(
            session=session,
            incident=incident,
            actor=actor,
            state=IncidentState.resolved,
            resolution_code=code,
            resolution_notes=data.resolution_notes
            or f"Resolved with {article.number}: {article.title}",
            reason=f"resolved with {article.number}",
            now=now,
        )
    incident_links.note_article_used(
        session=session, incident_id=incident.id, article_id=article.id,
        article_number=article.number, resolved=data.resolve, actor=actor, now=now,
    )  # fmt: skip
    return use


def _incident(session: Session, incident_id: int):
    try:
        return incidents_service.get(session=session, incident_id=incident_id)
    except NotFound as error:  # the id is in the body: the body's fault, not a missing page
        raise UnprocessableEntity(
            f"There is no incident {incident_id}", field="incident_id"
        ) from error


def _section(heading: str, text: str | None) -> str:
    return f"## {heading}\n\n{text.strip()}\n" if text and text.strip() else ""


def draft_from_incident(
    *, session: Session, incident_id: int, actor: User, now: datetime | None = None
) -> Article:
    """A draft article written up from a resolved incident: its symptom and resolution."""
    incident = _incident(session, incident_id)
    if incident.state not in (IncidentState.resolved, IncidentState.closed) or not (
        incident.resolution_notes and incident.resolution_notes.strip()
    ):
        raise NothingToDraftFrom(
            f"{incident.number} is {incident.state} without resolution notes; "
            "draft from a resolved incident",
            state=incident.state,
        )
    body = "\n".join(
        part
        for part in (
            _section("Symptom", incident.description or incident.title),
            _section("Resolution", incident.resolution_notes),
            f"_Written up from {incident.number}._\n",
        )
        if part
    )
    data = ArticleCreate(
        title=incident.title,
        body=body,
        category=incident.category,
        service=incident.service,
    )
    return service.create(
        session=session, data=data, actor=actor, source_incident_id=incident.id, now=now
    )


def draft_from_problem(
    *, session: Session, problem_id: int, actor: User, now: datetime | None = None
) -> Article:
    """A draft article written up from a known error (or a problem with a root cause): the
    symptom, the cause, the workaround and the fix."""
    try:
        problem = problems_service.get(session=session, problem_id=problem_id)
    except NotFound as error:
        raise UnprocessableEntity(
            f"There is no problem {problem_id}", field="problem_id"
        ) from error
    if not (problem.workaround or problem.fix_notes):
        raise NothingToDraftFrom(
            f"{problem.number} has neither a workaround nor a fix to write up yet",
            state=problem.state,
        )
    body = "\n".join(
        part
        for part in (
            _section("Symptom", problem.symptom or problem.description or problem.title),
            _section("Cause", problem.root_cause),
            _section("Workaround", problem.workaround),
            _section("Fix", problem.fix_notes),
            f"_Written up from {problem.number}._\n",
        )
        if part
    )
    data = ArticleCreate(
        title=problem.title, body=body, category=problem.category, service=problem.service
    )
    return service.create(
        session=session, data=data, actor=actor, source_problem_id=problem.id, now=now
    )


def import_uses(*, session: Session, uses: list[dict[str, Any]]) -> int:
    """Uses recorded in bulk, on both records (see ``service.import_uses``); each mapping also
    names the article_number. Returns how many were new."""
    written = service.import_uses(session=session, uses=uses)
    new = {(row.article_id, row.incident_id) for row in written}
    incident_links.note_articles_used_many(
        session=session,
        uses=[use for use in uses if (use["article_id"], use["incident_id"]) in new],
    )
    return len(written)
