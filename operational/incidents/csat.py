"""Satisfaction surveys: opened when an incident is resolved, answered once, by the requester.

The requester answers signed in (``answer_as_requester``): the answer records who. A survey also
has a one-time token for a link that a notification will carry to the requester (mail is a later
issue); whoever holds it may answer (``answer``), and the answer records that it came through the
token. The token is 32 random bytes (URL-safe base64). Only its SHA-256 is stored: a fast hash is
enough for a random secret of that size, and it lets the answer endpoint find the survey by it.
The plain token is handed only to the requester (docs/incidents.md, "Satisfaction").
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.config import get_settings
from operational.core.errors import Forbidden, NotFound
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.incidents.enums import SurveyChannel
from operational.incidents.exceptions import SurveyAlreadyAnswered, SurveyExpired
from operational.incidents.models import CsatSurvey, Incident


@dataclass(frozen=True)
class SurveyInvitation:
    """What the requester needs to answer: shown once, when the survey opens."""

    survey: CsatSurvey
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    token = secrets.token_urlsafe(32)
    survey = CsatSurvey(
        incident_id=incident.id,
        requester_id=incident.requester_id,
        token_hash=hash_token(token),
        opened_at=now,
        expires_at=now + timedelta(days=get_settings().csat_survey_valid_days),
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


def open_for(*, session: Session, incident_id: int, now: datetime) -> CsatSurvey | None:
    """The incident's survey that can still be answered: its latest, unanswered and unexpired."""
    survey = latest_for(session=session, incident_id=incident_id)
    if survey is None or survey.answered_at is not None or survey.expires_at <= now:
        return None
    return survey


def answer(
    *, session: Session, token: str, rating: int, comment: str | None, now: datetime
) -> CsatSurvey:
    """Answer through the one-time link. Whoever holds the token may: the answer records that it
    came through the token, not who sent it. A second answer is a 409, an expired survey a 410."""
    survey = by_token(session=session, token=token, lock=True)
    return _record(
        session, survey, rating=rating, comment=comment, now=now, via=SurveyChannel.token, by=None
    )


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
    latest = session.scalar(
        select(CsatSurvey)
        .where(CsatSurvey.incident_id == incident.id)
        .order_by(CsatSurvey.opened_at.desc(), CsatSurvey.id.desc())
        .limit(1)
        .with_for_update(of=CsatSurvey)
    )
    if latest is None:
        raise NotFound(f"{incident.number} has no satisfaction survey")
    return _record(
        session,
        latest,
        rating=rating,
        comment=comment,
        now=now,
        via=SurveyChannel.requester,
        by=requester,
    )


def _record(
    session: Session,
    survey: CsatSurvey,
    *,
    rating: int,
    comment: str | None,
    now: datetime,
    via: SurveyChannel,
    by: User | None,
) -> CsatSurvey:
    if survey.answered_at is not None:
        raise SurveyAlreadyAnswered(
            "This survey has already been answered", answered_at=survey.answered_at.isoformat()
        )
    if survey.expires_at <= now:
        raise SurveyExpired(
            "This survey is no longer open", expired_at=survey.expires_at.isoformat()
        )
    # Lock the incident: its event sequence must not race another change.
    session.scalar(select(Incident.id).where(Incident.id == survey.incident_id).with_for_update())
    survey.answered_at = now
    survey.rating = rating
    survey.comment = comment
    survey.answered_via = via.value
    survey.answered_by_id = by.id if by else None
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
