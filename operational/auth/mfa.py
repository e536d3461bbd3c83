"""TOTP multi-factor authentication (RFC 6238, via pyotp) and single-use recovery codes.

A code is accepted for the current 30-second time-step and one step either side
(``valid_window=1``), so a phone clock up to about 30 seconds off still works. The step a code
matched is stored in ``users.mfa_last_used_step``; a code for that step or an earlier one is
refused, so a code seen once (shoulder-surfed, logged, replayed) cannot be used again.

The secret is stored encrypted (operational/core/encryption.py) and decrypted only to check a
code. Enrolment and activation ask for the account's password again: a stolen access token alone
cannot put an attacker's authenticator on the account.

Functions that take a session flush, never commit.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from operational.auth.exceptions import (
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaNotEnrolling,
    MfaUnavailable,
    WrongPassword,
)
from operational.auth.models import RecoveryCode, User
from operational.auth.security import hash_secret, verify_secret
from operational.core import encryption
from operational.core.config import Settings, get_settings
from operational.events import service as events
from operational.events.enums import EntityType, EventKind

VALID_WINDOW = 1  # time-steps accepted either side of the current one (clock drift)
RECOVERY_CODE_COUNT = 10


# --- TOTP ---------------------------------------------------------------------------------------


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(*, secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI that authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_code_data_uri(uri: str) -> str:
    """A PNG QR code of ``uri`` as a data: URI, ready for an <img src>."""
    return segno.make(uri, error="m").png_data_uri(scale=5, border=4)


def lock(session: Session, user: User) -> None:
    """Reload ``user`` under a row lock. Only the user row: a user loaded with its roles joined
    (the auth cache does) would otherwise ask for FOR UPDATE across an outer join."""
    session.refresh(user, with_for_update={"of": User})


def _normalize_code(code: str) -> str:
    return "".join(code.split())


def matching_step(
    *, secret: str, code: str, at: datetime, last_used_step: int | None
) -> int | None:
    """The time-step ``code`` belongs to when it is valid at ``at`` and not yet used, else None."""
    code = _normalize_code(code)
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        if current + offset < 0:
            continue
        if hmac.compare_digest(totp.at(at, counter_offset=offset), code):
            step = current + offset
            if last_used_step is not None and step <= last_used_step:
                return None  # replayed, or older than a code already used
            return step
    return None


def stored_secret(user: User) -> str | None:
    """The user's TOTP secret in clear, or None when there is none."""
    if not user.mfa_secret:
        return None
    try:
        return encryption.decrypt(user.mfa_secret)
    except encryption.UndecryptableSecret as exc:
        raise MfaUnavailable(str(exc)) from None


def consume_totp(*, user: User, code: str, at: datetime) -> bool:
    """Accept ``code`` once: on success remember its step so it cannot be replayed."""
    secret = stored_secret(user)
    if secret is None:
        return False
    step = matching_step(secret=secret, code=code, at=at, last_used_step=user.mfa_last_used_step)
    if step is None:
        return False
    user.mfa_last_used_step = step
    return True


# --- recovery codes -----------------------------------------------------------------------------


def _normalize_recovery_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes like ``3f9a1-c07b2``: 40 random bits each, hyphenated for reading aloud."""
    codes = []
    for _ in range(count):
        raw = secrets.token_hex(5)
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def replace_recovery_codes(*, session: Session, user: User) -> list[str]:
    """Discard the user's recovery codes and store ten new ones (hashed); return them in clear."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=hash_secret(_normalize_recovery_code(code)))
        for code in codes
    )
    session.flush()
    return codes


def consume_recovery_code(*, session: Session, user: User, code: str, at: datetime) -> bool:
    """Accept an unused recovery code once."""
    normalized = _normalize_recovery_code(code)
    if not normalized:
        return False
    unused = session.scalars(
        select(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        .order_by(RecoveryCode.id)
        .with_for_update()
    ).all()
    for stored in unused:
        if verify_secret(normalized, stored.code_hash):
            stored.used_at = at
            session.flush()
            return True
    return False


def unused_recovery_code_count(*, session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


# --- enrolment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_code: str


def _confirm_password(user: User, password: str) -> None:
    if not verify_secret(password, user.password_hash):
        raise WrongPassword("The current password is wrong")


def begin_enrolment(
    *, session: Session, user: User, password: str, settings: Settings | None = None
) -> Enrolment:
    """Give the user a new, not yet active secret. Calling it again replaces the pending secret."""
    settings = settings or get_settings()
    _confirm_password(user, password)
    if user.mfa_enabled:
        raise MfaAlreadyEnabled(
            "MFA is already active on this account; an admin can reset it (itsm user reset-mfa)"
        )
    secret = new_secret()
    user.mfa_secret = encryption.encrypt(secret, settings=settings)
    user.mfa_last_used_step = None
    session.flush()
    uri = provisioning_uri(
        secret=secret, account=user.email or str(user.id), issuer=settings.totp_issuer
    )
    return Enrolment(secret=secret, otpauth_uri=uri, qr_code=qr_code_data_uri(uri))


def activate(*, session: Session, user: User, code: str, password: str, at: datetime) -> list[str]:
    """Turn MFA on after one valid code; returns the ten recovery codes (shown only now)."""
    lock(session, user)  # concurrent verifies must not share a step
    _confirm_password(user, password)
    if user.mfa_enabled:
        raise MfaAlreadyEnabled("MFA is already active on this account")
    if not user.mfa_secret:
        raise MfaNotEnrolling("Start with POST /api/v1/auth/mfa/enroll")
    if not consume_totp(user=user, code=code, at=at):
        raise InvalidMfaCode(
            "The code is wrong, expired or already used; enter the current code from the app"
        )
    user.mfa_enabled = True
    codes = replace_recovery_codes(session=session, user=user)
    events.append(
        session=session,
        entity_type=EntityType.user,
        entity_id=user.id,
        kind=EventKind.user_mfa_enabled,
        actor=user,
        field="mfa_enabled",
        old_value=False,
        new_value=True,
        occurred_at=at,
    )
    return codes


def reencrypt_secrets(*, session: Session, settings: Settings | None = None) -> int:
    """Encrypt every stored TOTP secret again under the newest TOTP key (key rotation); returns
    how many. Raises MfaUnavailable when a secret opens with none of the configured keys."""
    users = session.scalars(
        select(User).where(User.mfa_secret.is_not(None)).order_by(User.id).with_for_update()
    ).all()
    for user in users:
        try:
            user.mfa_secret = encryption.reencrypt(user.mfa_secret, settings=settings)
        except encryption.UndecryptableSecret as exc:
            raise MfaUnavailable(f"User {user.id}: {exc}") from None
    session.flush()
    return len(users)


def reset(*, session: Session, user: User, actor: User | None, at: datetime) -> None:
    """Admin recovery: turn MFA off and forget secret and recovery codes; the user enrols again."""
    lock(session, user)
    was_enabled = user.mfa_enabled
    user.mfa_enabled = False
    user.mfa_secret = None
    user.mfa_last_used_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
    events.append(
        session=session,
        entity_type=EntityType.user,
        entity_id=user.id,
        kind=EventKind.field_changed,
        actor=actor,
        field="mfa_enabled",
        old_value=was_enabled,
        new_value=False,
        data={"reason": "mfa_reset"},
        occurred_at=at,
    )
