"""Brute-force protection for login, computed from the ``login_attempts`` table.

- **Per account.** ``login_max_failures_per_account`` failures for one email address within
  ``login_failure_window_minutes`` lock that address for ``login_lockout_minutes`` (423). The
  count is kept per email address, not per user row, so an unknown address locks exactly like a
  real one and the answers never tell whether an account exists. A successful login or an
  admin unlock starts the count afresh, and so does a lock.
- **Per client.** ``login_max_failures_per_client`` failures from one client address within the
  window refuse that client (429) until enough of them have aged out of the window.

Attempts on one address are serialized by a transaction-level lock on the address (there is no
row to lock for an unknown one), taken before the lock check and held until the attempt is
committed; failures that count for the client also take the client's lock and check its limit
again. So parallel attempts see each other's failures, and the limits are exact.

Attempts refused by a lock or by the client limit are recorded but do not count, so
``Retry-After`` is the true time to wait. A login that needs an MFA code and got none does not
count either: it is the normal first step for MFA users.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from operational.auth.models import LoginAttempt, User
from operational.core.config import Settings, get_settings


class Outcome(StrEnum):
    """The ``reason`` recorded for a login attempt."""

    ok = "ok"
    ok_mfa_enrolment = "ok_mfa_enrolment"
    unknown_email = "unknown_email"
    bad_password = "bad_password"
    inactive = "inactive"
    bad_mfa_code = "bad_mfa_code"
    mfa_code_missing = "mfa_code_missing"
    account_locked = "account_locked"
    client_throttled = "client_throttled"
    admin_unlock = "admin_unlock"


SUCCESSES = frozenset({Outcome.ok, Outcome.ok_mfa_enrolment})
# Outcomes after which the per-account count starts again.
RESETS = SUCCESSES | {Outcome.admin_unlock}
ACCOUNT_FAILURES = frozenset(
    {Outcome.unknown_email, Outcome.bad_password, Outcome.inactive, Outcome.bad_mfa_code}
)
CLIENT_FAILURES = ACCOUNT_FAILURES | {Outcome.account_locked}


def _serialize(session: Session, key: str) -> None:
    # An advisory lock, released when the transaction ends; a hash collision only makes two
    # unrelated attempts wait for each other.
    session.execute(text("select pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def serialize_account(*, session: Session, email: str) -> None:
    """Wait until no other attempt on this email address is in flight."""
    _serialize(session, f"login:account:{email}")


def serialize_client(*, session: Session, client: str) -> None:
    """Wait until no other failure from this client is being recorded."""
    _serialize(session, f"login:client:{client}")


def _window(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_failure_window_minutes)


def client_blocked_until(
    *, session: Session, client: str, now: datetime, settings: Settings | None = None
) -> datetime | None:
    """When the client may try again, or None when it is not blocked."""
    settings = settings or get_settings()
    window = _window(settings)
    # The n-th most recent failure: once it leaves the window, fewer than n remain.
    nth_latest = session.scalar(
        select(LoginAttempt.attempted_at)
        .where(
            LoginAttempt.client == client,
            LoginAttempt.reason.in_([str(outcome) for outcome in CLIENT_FAILURES]),
            LoginAttempt.attempted_at > now - window,
        )
        .order_by(LoginAttempt.attempted_at.desc())
        .offset(settings.login_max_failures_per_client - 1)
        .limit(1)
    )
    return nth_latest + window if nth_latest is not None else None


def _last_id(session: Session, email: str, *conditions) -> int:
    return (
        session.scalar(
            select(func.max(LoginAttempt.id)).where(LoginAttempt.email == email, *conditions)
        )
        or 0
    )


def _last_reset_id(session: Session, email: str) -> int:
    return _last_id(session, email, LoginAttempt.reason.in_([str(outcome) for outcome in RESETS]))


def account_locked_until(*, session: Session, email: str, now: datetime) -> datetime | None:
    """The end of the lock on this email address, or None when it is not locked."""
    return session.scalar(
        select(func.max(LoginAttempt.locked_until)).where(
            LoginAttempt.email == email,
            LoginAttempt.id > _last_reset_id(session, email),
            LoginAttempt.locked_until > now,
        )
    )


def recent_account_failures(
    *, session: Session, email: str, now: datetime, settings: Settings | None = None
) -> int:
    """Failures for this email inside the window since the last success, unlock or lock."""
    settings = settings or get_settings()
    since_id = max(
        _last_reset_id(session, email),
        _last_id(session, email, LoginAttempt.locked_until.is_not(None)),
    )
    return (
        session.scalar(
            select(func.count()).where(
                LoginAttempt.email == email,
                LoginAttempt.id > since_id,
                LoginAttempt.reason.in_([str(outcome) for outcome in ACCOUNT_FAILURES]),
                LoginAttempt.attempted_at > now - _window(settings),
            )
        )
        or 0
    )


def record(
    *,
    session: Session,
    email: str,
    client: str,
    outcome: Outcome,
    now: datetime,
    user: User | None = None,
    settings: Settings | None = None,
) -> LoginAttempt:
    """Record one attempt. A failure that reaches the limit locks the address (``locked_until``
    is set on the returned attempt). ``user``, when known, mirrors the count and the lock."""
    settings = settings or get_settings()
    attempt = LoginAttempt(
        email=email,
        client=client[:200],
        succeeded=outcome in SUCCESSES,
        reason=str(outcome),
        attempted_at=now,
    )
    if outcome in ACCOUNT_FAILURES:
        failures = recent_account_failures(session=session, email=email, now=now, settings=settings)
        failures += 1  # this one
        if failures >= settings.login_max_failures_per_account:
            attempt.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
        if user is not None:
            user.failed_login_count = failures
            user.locked_until = attempt.locked_until or user.locked_until
    elif outcome in RESETS and user is not None:
        user.failed_login_count = 0
        user.locked_until = None
    session.add(attempt)
    session.flush()
    return attempt
