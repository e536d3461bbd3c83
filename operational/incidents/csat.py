"""Satisfaction surveys of incidents: opened when an incident is resolved, answered once, by the
requester. The mechanism, shared with requests, is ``operational.core.surveys``.

The requester answers signed in (``answer_as_requester``): the answer records who. A survey also
has a one-time token for a link that only the requester is sent; whoever holds it may answer
(``answer``), and the answer records that it came through the token (docs/incidents.md,
"Satisfaction").
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core import surveys
from operational.core.errors import Forbidden, NotFound
from operational.core.surveys import SurveyChannel, hash_token
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.incidents.models import CsatSurvey, Incident


@dataclass(frozen=True)
class SurveyInvitation:
    """What the requester needs to answer by link: shown once, when the survey opens."""

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


def _latest(incident_id: int) -> Select[tuple[CsatSurvey]]:
    return (
        select(CsatSurvey)
        .where(CsatSurvey.incident_id == incident_id)
        .order_by(CsatSurvey.opened_at.desc(), CsatSurvey.id.desc())
        .limit(1)
    )


def latest_for(*, session: Session, incident_id: int) -> CsatSurvey | None:
    return session.scalar(_latest(incident_id))


def open_for(*, session: Session, incident_id: int, now: datetime) -> CsatSurvey | None:
    """The incident's survey that can still be answered: its latest, unanswered and unexpired."""
    survey = latest_for(session=session, incident_id=incident_id)
    return survey if survey is not None and surveys.is_open(survey, now) else None


def answer(
    *, session: Session, token: str, rating: int, comment: str | None, now: datetime
) -> CsatSurvey:
    """Answer through the one-time link. Whoever holds the token may: the answer records that it
    came through the token, not who sent it. A second answer is a 409, an expired survey a 410."""
    survey = by_token(session=session, token=token, lock=True)
    return _record(session, survey, rating=rating, comment=comment, now=now, by=None)


def answer_as_requester(
    *,
    session: Session,
    incident: Incident,
    requester: User,
    rating: int,
    comment: str | None,
    now: datetime,
) -> CsatSurvey:
    """Answer signed in: only the incident's requester may, and the answer records them."""
    if requester.id != incident.requester_id:
        raise Forbidden(
            f"Only the requester of {incident.number} answers its satisfaction survey",
            incident=incident.number,
        )
    latest = session.scalar(_latest(incident.id).with_for_update(of=CsatSurvey))
    if latest is None:
        raise NotFound(f"{incident.number} has no satisfaction survey")
    return _record(session, latest, rating=rating, comment=comment, now=now, by=requester)


def _record(
    session: Session,
    survey: CsatSurvey,
    *,
    rating: int,
    comment: str | None,
    now: datetime,
    by: User | None,
) -> CsatSurvey:
    via = SurveyChannel.requester if by is not None else SurveyChannel.token
    surveys.record_answer(
        survey, rating=rating, comment=comment, now=now, via=via, by_id=by.id if by else None
    )
    # Lock the incident: its event sequence must not race another change.
    session.scalar(select(Incident.id).where(Incident.id == survey.incident_id).with_for_update())
    events.append(
        session=session,
        entity_type=EntityType.incident,
        entity_id=survey.incident_id,
        kind=EventKind.csat_answered,
        actor=by,
        # Through the link nobody is known: the token proves possession, not identity.
        actor_label=by.display_name if by else "survey link (token)",
        new_value=rating,
        data={"survey_id": survey.id, "rating": rating, "comment": comment, "via": via.value},
        occurred_at=now,
    )
    return survey
