"""The install's own secrets, generated on first use and kept under ``ITSM_HOME`` with mode 0600.

- ``secret.key`` signs access tokens; ``ITSM_SECRET_KEY`` overrides it.
- ``totp.key`` holds the Fernet keys that encrypt TOTP secrets at rest, one per line: the first
  encrypts, every one decrypts (``itsm keys rotate-totp``); ``ITSM_TOTP_KEY`` overrides it (keys
  separated by commas).
- ``audit.key`` signs the audit trail's seals (HMAC-SHA256); ``ITSM_AUDIT_KEY`` overrides it.
  Kept apart from ``secret.key`` so that rotating the token key never invalidates old seals.
- ``<role>.password``: the database roles' passwords (``operational/core/roles.py``).

The built-in values below exist only for the test suite (``ITSM_ENVIRONMENT=test``): anywhere
else the settings refuse them, so a token signed with the built-in secret is never accepted.
See docs/security.md, "Secrets and keys".
"""

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

SECRET_KEY_FILE = "secret.key"
TOTP_KEY_FILE = "totp.key"
AUDIT_KEY_FILE = "audit.key"

BUILT_IN_SECRET_KEY = "test-suite-only-secret-never-used-by-an-install-0123456789"
BUILT_IN_AUDIT_KEY = "test-suite-only-audit-key-never-used-by-an-install-0123456789"
BUILT_IN_TOTP_KEY = "dGVzdC1zdWl0ZS1vbmx5LXRvdHAta2V5LTAxMjM0NTY="

MINIMUM_SECRET_KEY_LENGTH = 32


class KeyFileError(ValueError):
    """A key file that cannot be used (empty, or readable by other users)."""


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def new_totp_key() -> str:
    return Fernet.generate_key().decode()


def _refuse_loose_permissions(path: Path) -> None:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise KeyFileError(
            f"{path} may be read by other users (mode {path.stat().st_mode & 0o777:o}); "
            f"run: chmod 600 {path}"
        )


def _private_temporary(path: Path, content: str) -> Path:
    """``content`` in a new file beside ``path``, readable by its owner only."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    return temporary


def read_or_create(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in ``path``; on first use ``generate()`` makes one, stored with mode 0600.

    The file appears complete or not at all (written aside, then hard-linked into place), and
    the first process to link it wins, so processes starting together agree on one value.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = _private_temporary(path, generate() + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its value
        finally:
            temporary.unlink()
    _refuse_loose_permissions(path)
    value = path.read_text().strip()
    if not value:
        raise KeyFileError(f"{path} is empty; delete it to have a new one generated")
    return value


def replace(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` (mode 0600) in one step: readers see the old or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_private_temporary(path, content.strip() + "\n"), path)


def resolve_secret_key(*, configured: str | None, environment: str, home: Path) -> str:
    """The key that signs access tokens: configured, else the install's own (made on first use).

    Only the test suite may run on the built-in key; production needs 32+ characters.
    """
    if configured is None:
        if environment == "test":
            return BUILT_IN_SECRET_KEY
        return read_or_create(home / SECRET_KEY_FILE, new_secret_key)
    if configured == BUILT_IN_SECRET_KEY and environment != "test":
        raise ValueError("ITSM_SECRET_KEY is the test suite's built-in key; set a random value")
    if environment == "production" and len(configured) < MINIMUM_SECRET_KEY_LENGTH:
        raise ValueError(
            f"ITSM_SECRET_KEY must be a random value of {MINIMUM_SECRET_KEY_LENGTH}+ characters"
        )
    return configured


def resolve_audit_key(*, configured: str | None, environment: str, home: Path) -> str:
    """The key that signs audit seals: configured, else the install's own (made on first use)."""
    if configured is None:
        if environment == "test":
            return BUILT_IN_AUDIT_KEY
        return read_or_create(home / AUDIT_KEY_FILE, new_secret_key)
    if configured == BUILT_IN_AUDIT_KEY and environment != "test":
        raise ValueError("ITSM_AUDIT_KEY is the test suite's built-in key; set a random value")
    if environment == "production" and len(configured) < MINIMUM_SECRET_KEY_LENGTH:
        raise ValueError(
            f"ITSM_AUDIT_KEY must be a random value of {MINIMUM_SECRET_KEY_LENGTH}+ characters"
        )
    return configured


def split_keys(value: str) -> list[str]:
    """Fernet keys written one per line (the key file) or separated by commas (the variable)."""
    return [key for key in re.split(r"[\s,]+", value) if key]


def resolve_totp_keys(*, configured: str | None, environment: str, home: Path) -> list[str]:
    """The Fernet keys for TOTP secrets, newest (the one that encrypts) first."""
    if configured is not None:
        keys = split_keys(configured)
    elif environment == "test":
        keys = [BUILT_IN_TOTP_KEY]
    else:
        keys = split_keys(read_or_create(home / TOTP_KEY_FILE, new_totp_key))
    if not keys:
        raise ValueError("ITSM_TOTP_KEY holds no key")
    if BUILT_IN_TOTP_KEY in keys and environment != "test":
        raise ValueError("ITSM_TOTP_KEY holds the test suite's built-in key; set a random one")
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(
                "a TOTP key is not a Fernet key (32 url-safe base64-encoded bytes); "
                "make one with: itsm keys new-totp-key"
            ) from None
    return keys
