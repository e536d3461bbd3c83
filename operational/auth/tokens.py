"""Opaque refresh tokens with rotation and reuse detection.

A token is 256 random bits, handed out once and stored only as its SHA-256 (a fast hash is enough
for a random value nobody can guess). Each login starts a family; every refresh spends the
presented token and issues the next one in the same family. Presenting a spent token again means
two parties hold it, so the whole family is revoked and both must sign in again. However often
it is rotated, a family ends ``refresh_family_days`` after its login.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from operational.auth.exceptions import InvalidRefreshToken, RefreshTokenReused
from operational.auth.models import RefreshToken, User
from operational.core.config import Settings, get_settings


@dataclass(frozen=True)
class IssuedRefreshToken:
    token: str
    family_id: str
    expires_at: datetime


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    *,
    session: Session,
    user: User,
    now: datetime,
    client: str | None,
    family: RefreshToken | None = None,
    settings: Settings | None = None,
) -> IssuedRefreshToken:
    """A new refresh token: the successor of ``family``'s spent token, or a new login's first."""
    settings = settings or get_settings()
    token = secrets.token_urlsafe(32)
    family_id = family.family_id if family else str(uuid.uuid4())
    family_started_at = family.family_started_at if family else now
    expires_at = min(
        now + timedelta(days=settings.refresh_token_days),
        family_ends_at(family_started_at, settings),
    )
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            family_started_at=family_started_at,
            token_hash=hash_token(token),
            issued_at=now,
            expires_at=expires_at,
            client=client[:200] if client else None,
        )
    )
    session.flush()
    return IssuedRefreshToken(token=token, family_id=family_id, expires_at=expires_at)


def family_ends_at(started_at: datetime, settings: Settings) -> datetime:
    return started_at + timedelta(days=settings.refresh_family_days)


def find(*, session: Session, token: str, for_update: bool = False) -> RefreshToken | None:
    statement = select(RefreshToken).where(RefreshToken.token_hash == hash_token(token))
    if for_update:
        statement = statement.with_for_update()
    return session.scalar(statement)


def revoke_family(*, session: Session, family_id: str, now: datetime) -> int:
    """Revoke every live token of a family; returns how many."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.flush()
    return result.rowcount


def revoke_all_for_user(*, session: Session, user_id: int, now: datetime) -> int:
    """Revoke every live refresh token of a user (log out everywhere, deactivation, resets)."""
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.flush()
    return result.rowcount


def spend(
    *, session: Session, token: str, now: datetime, settings: Settings | None = None
) -> RefreshToken:
    """Mark a live token used and return it; raises on an unknown, revoked, expired or reused one,
    and on one whose family is past its absolute lifetime.

    On reuse the family has been revoked when this raises: the caller must commit anyway.
    """
    settings = settings or get_settings()
    stored = find(session=session, token=token, for_update=True)
    if stored is None:
        raise InvalidRefreshToken("The refresh token is not valid; sign in again")
    if stored.revoked_at is not None:
        raise InvalidRefreshToken("The refresh token has been revoked; sign in again")
    if stored.used_at is not None:
        revoke_family(session=session, family_id=stored.family_id, now=now)
        raise RefreshTokenReused(
            "This refresh token was already used; every session of this login has been "
            "revoked. Sign in again."
        )
    if family_ends_at(stored.family_started_at, settings) <= now:
        raise InvalidRefreshToken(
            f"This login began more than {settings.refresh_family_days} days ago; sign in again"
        )
    if stored.expires_at <= now:
        raise InvalidRefreshToken("The refresh token has expired; sign in again")
    stored.used_at = now
    session.flush()
    return stored
