"""The satisfaction survey of a closed request: the incidents' one-time survey
(``operational.core.surveys``), kept in the request's own table and log."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.core import surveys
from operational.core.errors import NotFound
from operational.events.enums import EventKind
from operational.requests.models import Request, RequestSurvey
from operational.requests.recording import lock, record


@dataclass(frozen=True)
class SurveyInvitation:
    survey: RequestSurvey
    token: str


def open_survey(*, session: Session, request: Request, now: datetime) -> SurveyInvitation:
    token = surveys.new_token()
    survey = RequestSurvey(
        request_id=request.id, requester_id=request.requester_id, **surveys.open_fields(token, now)
    )
    session.add(survey)
    session.flush()
    return SurveyInvitation(survey=survey, token=token)


def by_token(*, session: Session, token: str, lock_row: bool = False) -> RequestSurvey:
    statement = select(RequestSurvey).where(RequestSurvey.token_hash == surveys.hash_token(token))
    if lock_row:
        statement = statement.with_for_update(of=RequestSurvey)
    survey = session.scalar(statement)
    if survey is None:
        raise NotFound("No survey has this token")
    return survey


def latest_for(*, session: Session, request_id: int) -> RequestSurvey | None:
    return session.scalar(
        select(RequestSurvey)
        .where(RequestSurvey.request_id == request_id)
        .order_by(RequestSurvey.opened_at.desc(), RequestSurvey.id.desc())
        .limit(1)
    )


def answer(
    *, session: Session, token: str, rating: int, comment: str | None, now: datetime
) -> RequestSurvey:
    """Record the answer once (409 the second time, 410 once expired), as an event."""
    survey = by_token(session=session, token=token, lock_row=True)
    surveys.record_answer(
        survey, rating=rating, comment=comment, now=now, via=surveys.SurveyChannel.token
    )
    request = survey.request
    lock(session, request)
    record(
        session,
        request,
        EventKind.csat_answered,
        None,
        now,
        new=rating,
        data={"survey_id": survey.id, "rating": rating, "comment": comment, "via": "token"},
        # Through the link nobody is known: the token proves possession, not identity.
        actor_label="survey link (token)",
    )
    return survey
