"""Secrets at rest (TOTP secrets): Fernet (AES-128-CBC with HMAC-SHA256) under the install's
TOTP keys (``Settings.totp_key``, see operational/core/keys.py). The newest key encrypts; every
configured key decrypts, so a rotation can re-encrypt row by row (``itsm keys rotate-totp``)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from operational.core.config import Settings, get_settings
from operational.core.keys import split_keys


class UndecryptableSecret(Exception):
    """A stored secret none of the configured keys opens (the key file was lost or replaced)."""


@lru_cache
def _cipher(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in split_keys(keys)])


def cipher(settings: Settings | None = None) -> MultiFernet:
    settings = settings or get_settings()
    return _cipher(settings.totp_key.get_secret_value())


def encrypt(plain: str, *, settings: Settings | None = None) -> str:
    return cipher(settings).encrypt(plain.encode()).decode()


def decrypt(token: str, *, settings: Settings | None = None) -> str:
    try:
        return cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret(
            "A stored secret cannot be decrypted with the configured TOTP keys "
            "(ITSM_TOTP_KEY or <ITSM_HOME>/totp.key); restore the key it was encrypted with"
        ) from None


def reencrypt(token: str, *, settings: Settings | None = None) -> str:
    """The same secret under the newest key (MultiFernet.rotate)."""
    try:
        return cipher(settings).rotate(token.encode()).decode()
    except InvalidToken:
        raise UndecryptableSecret(
            "A stored secret cannot be decrypted with any configured TOTP key; rotation stopped"
        ) from None
