import math
from datetime import datetime
from typing import Any

from operational.core.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Locked,
    TooManyRequests,
    Unauthorized,
    UnprocessableEntity,
)


class WeakPassword(UnprocessableEntity):
    slug, title = "weak-password", "Password refused"


class EmailTaken(Conflict):
    slug, title = "email-taken", "Email already in use"


class InvalidCredentials(Unauthorized):
    """The same answer for an unknown email, a wrong password and an inactive account."""

    slug, title = "invalid-credentials", "Login failed"

    def __init__(self, detail: str = "The email or password is wrong", **extra: Any):
        super().__init__(detail, **extra)


class MfaCodeRequired(Unauthorized):
    slug, title = "mfa-required", "MFA code required"

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail, mfa_required=True, **extra)


class InvalidMfaCode(BadRequest):
    """A wrong or replayed code while enrolling (login answers MfaCodeRequired instead)."""

    slug, title = "invalid-mfa-code", "MFA code refused"


class MfaUnavailable(DomainError):
    """The stored TOTP secret cannot be decrypted: the install's TOTP key was lost or replaced."""

    status, slug, title = 503, "mfa-unavailable", "MFA unavailable"


class MfaAlreadyEnabled(Conflict):
    slug, title = "mfa-already-enabled", "MFA already enabled"


class MfaNotEnrolling(Conflict):
    slug, title = "mfa-not-enrolling", "No MFA enrolment in progress"


class InvalidRefreshToken(Unauthorized):
    slug, title = "invalid-refresh-token", "Refresh token refused"


class RefreshTokenReused(Unauthorized):
    slug, title = "refresh-token-reused", "Refresh token reused"


class WrongPassword(BadRequest):
    slug, title = "wrong-password", "Current password is wrong"


class LastAdmin(Conflict):
    slug, title = "last-admin", "Last active admin"


class TeamNameTaken(Conflict):
    slug, title = "team-name-taken", "Team name already in use"


class UnknownTeam(UnprocessableEntity):
    slug, title = "unknown-team", "Unknown team"


class UnknownTimezone(UnprocessableEntity):
    slug, title = "unknown-timezone", "Unknown time zone"


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


class AccountLocked(Locked):
    slug, title = "account-locked", "Account locked"

    def __init__(self, *, locked_until: datetime, now: datetime):
        seconds = _seconds_until(locked_until, now)
        super().__init__(
            "Too many failed logins for this account; try again later",
            headers={"Retry-After": str(seconds)},
            retry_after=seconds,
            locked_until=locked_until.isoformat(),
        )


class ClientThrottled(TooManyRequests):
    slug, title = "login-throttled", "Too many failed logins"

    def __init__(self, *, retry_at: datetime, now: datetime):
        super().__init__(
            "Too many failed logins from this client; try again later",
            retry_after_seconds=_seconds_until(retry_at, now),
        )
