"""One-time satisfaction surveys, the mechanism every ticket type shares (incidents, requests).

A survey opens when a ticket is finished and is answered once: by its requester signed in, or
by whoever holds its one-time token (a link that only the requester is sent). The token is 32
random bytes (URL-safe base64) of which only the SHA-256 is stored: a fast hash is enough for a
random secret of that size, and it lets the answer endpoint find the survey by it. An answer
records how it came (``SurveyChannel``) and, signed in, who gave it. Each domain keeps its surveys
in its own table, built from ``SurveyColumns``.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from operational.core.config import get_settings
from operational.core.errors import Conflict, DomainError


class SurveyChannel(StrEnum):
    """How a satisfaction survey was answered."""

    requester = "requester"  # signed in, by the ticket's requester
    token = "token"  # through the one-time link, by whoever held it
    imported = "import"  # another tool's record, loaded by ingest


# The check constraints every survey table carries (name → condition).
SURVEY_CHECKS = {
    "rating_range": "rating is null or rating between 1 and 5",
    "answered_with_rating": "(answered_at is null) = (rating is null)",
    "known_answered_via": "answered_via is null or answered_via in ("
    + ", ".join(f"'{channel.value}'" for channel in SurveyChannel)
    + ")",
}


class SurveyAlreadyAnswered(Conflict):
    slug, title = "survey-answered", "Survey already answered"


class SurveyExpired(DomainError):
    status, slug, title = 410, "survey-expired", "Survey no longer open"


class SurveyColumns:
    """The columns of a survey (a declarative mixin)."""

    # SHA-256 of the one-time token; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    # How the answer came (SurveyChannel), and who gave it when they were signed in.
    answered_via: Mapped[str | None] = mapped_column(String(16))
    answered_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def open_fields(token: str, now: datetime) -> dict[str, datetime | str]:
    """The columns of a survey opened at ``now`` for ``token``."""
    return {
        "token_hash": hash_token(token),
        "opened_at": now,
        "expires_at": now + timedelta(days=get_settings().csat_survey_valid_days),
    }


def record_answer(
    survey: SurveyColumns,
    *,
    rating: int,
    comment: str | None,
    now: datetime,
    via: SurveyChannel,
    by_id: int | None = None,
) -> None:
    """Store the answer and how it came; a second answer is a 409, an expired survey a 410."""
    if survey.answered_at is not None:
        raise SurveyAlreadyAnswered(
            "This survey has already been answered", answered_at=survey.answered_at.isoformat()
        )
    if survey.expires_at <= now:
        raise SurveyExpired(
            "This survey is no longer open", expired_at=survey.expires_at.isoformat()
        )
    survey.answered_at = now
    survey.rating = rating
    survey.comment = comment
    survey.answered_via = via.value
    survey.answered_by_id = by_id


def is_open(survey: SurveyColumns, now: datetime) -> bool:
    return survey.answered_at is None and survey.expires_at > now
