"""Password hashing (argon2), password policy and access tokens (PyJWT)."""

import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from operational.core.config import Settings, get_settings

# The scope of a token issued only to enrol MFA: it opens the enrolment routes and nothing else.
MFA_ENROLMENT_SCOPE = "mfa_enrolment"

_hasher = PasswordHasher()
ACCESS_TOKEN_TYPE = "access"
JWT_ALGORITHM = "HS256"


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return _hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache
def common_passwords() -> frozenset[str]:
    text = resources.files("operational.auth").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problems(password: str, *, settings: Settings | None = None) -> list[str]:
    """Why a password is refused; empty when it is acceptable."""
    settings = settings or get_settings()
    problems = []
    if len(password) < settings.password_min_length:
        problems.append(f"must be at least {settings.password_min_length} characters long")
    if password.lower() in common_passwords():
        problems.append("is one of the most common passwords")
    return problems


def generate_password() -> str:
    """A one-time password for new accounts: 20 URL-safe characters."""
    return secrets.token_urlsafe(15)


def session_clock() -> datetime:
    """The clock of access tokens (``iat``, ``exp``) and of ``users.sessions_valid_after``.

    Always the real time, never a request's (settable) clock: PyJWT checks ``exp`` against it.
    """
    return datetime.now(UTC)


def create_access_token(
    *, user_id: int, settings: Settings | None = None, extra: dict[str, Any] | None = None
) -> str:
    settings = settings or get_settings()
    now = session_clock()
    claims = {
        "sub": str(user_id),
        "type": ACCESS_TOKEN_TYPE,
        # With its microseconds (RFC 7519 allows a fraction): a token issued a moment after a
        # revocation in the same second must still be valid.
        "iat": now.timestamp(),
        "exp": now + timedelta(minutes=settings.access_token_minutes),
        "jti": secrets.token_hex(8),
        **(extra or {}),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=JWT_ALGORITHM)


# Tokens whose signature and claims were checked, by secret and token: checking an HMAC costs
# more than the rest of a signed-in request's auth. Only ``exp`` needs checking again.
_checked: dict[tuple[str, str], dict[str, Any]] = {}
_CHECKED_MAX = 10_000


def decode_access_token(token: str, *, settings: Settings | None = None) -> dict[str, Any]:
    """Claims of a valid access token (not to be changed: they are shared); raises
    ``jwt.PyJWTError`` otherwise."""
    settings = settings or get_settings()
    secret = settings.secret_key.get_secret_value()
    claims = _checked.get((secret, token))
    if claims is not None:
        # As PyJWT decides (no leeway): expired once exp is not in the future.
        if claims["exp"] <= time.time():
            raise jwt.ExpiredSignatureError("Signature has expired")
        return claims
    claims = jwt.decode(
        token,
        secret,
        algorithms=[JWT_ALGORITHM],
        options={"require": ["sub", "exp", "type"]},
    )
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise jwt.InvalidTokenError("not an access token")
    if len(_checked) >= _CHECKED_MAX:
        _checked.clear()
    _checked[(secret, token)] = claims
    return claims


def issued_before(claims: dict[str, Any], moment: datetime | None) -> bool:
    """Whether the token was issued before ``moment`` (a user's ``sessions_valid_after``); one
    without ``iat`` counts as issued before any moment."""
    return moment is not None and float(claims.get("iat", 0)) < moment.timestamp()
