"""Satisfaction surveys: opened when an incident is resolved, answered once with a one-time token
(the mechanism, shared with requests, is ``operational.core.surveys``)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational.core import surveys
from operational.core.errors import NotFound
from operational.core.surveys import hash_token
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.incidents.models import CsatSurvey, Incident


@dataclass(frozen=True)
class SurveyInvitation:
    """What the requester needs to answer: shown once, when the survey opens."""

    survey: CsatSurvey
    token: str


def open_survey(*, session: Session, incident: Incident, now: datetime) -> SurveyInvitation:
    """Open a survey for the incident's latest resolution; earlier unanswered ones expire."""
    session.execute(
        update(CsatSurvey)
        .where(
            CsatSurvey.incident_id == incident.id,
            CsatSurvey.answered_at.is_(None),
            CsatSurvey.expires_at > now,
        )
        .values(expires_at=now)
    )
    token = surveys.new_token()
    survey = CsatSurvey(
        incident_id=incident.id,
        requester_id=incident.requester_id,
        **surveys.open_fields(token, now),
    )
    session.add(survey)
    session.flush()
    return SurveyInvitation(survey=survey, token=token)


def by_token(*, session: Session, token: str, lock: bool = False) -> CsatSurvey:
    statement = select(CsatSurvey).where(CsatSurvey.token_hash == hash_token(token))
    if lock:
        statement = statement.with_for_update(of=CsatSurvey)
    survey = session.scalar(statement)
    if survey is None:
        raise NotFound("No survey has this token")
    return survey


def latest_for(*, session: Session, incident_id: int) -> CsatSurvey | None:
    return session.scalar(
        select(CsatSurvey)
        .where(CsatSurvey.incident_id == incident_id)
        .order_by(CsatSurvey.opened_at.desc(), CsatSurvey.id.desc())
        .limit(1)
    )


def answer(
    *, session: Session, token: str, rating: int, comment: str | None, now: datetime
) -> CsatSurvey:
    """Record the answer; a second answer is a 409, an expired survey a 410."""
    survey = by_token(session=session, token=token, lock=True)
    surveys.record_answer(survey, rating=rating, comment=comment, now=now)
    # Lock the incident: its event sequence must not race another change.
    session.scalar(select(Incident.id).where(Incident.id == survey.incident_id).with_for_update())
    requester = survey.incident.requester
    events.append(
        session=session,
        entity_type=EntityType.incident,
        entity_id=survey.incident_id,
        kind=EventKind.csat_answered,
        actor=requester,
        actor_label=f"{requester.display_name} (survey link)" if requester else "survey link",
        new_value=rating,
        data={"survey_id": survey.id, "rating": rating, "comment": comment},
        occurred_at=now,
    )
    return survey
