"""Fixtures for the sign-in, user and team tests."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher

from operational.auth import security
from operational.auth.dependencies import utc_now
from operational.auth.models import User
from operational.core import encryption
from operational.core.config import Settings, get_settings
from tests import factories
from tests.factories import DEFAULT_PASSWORD

# 09:00:00 is a TOTP step boundary (a multiple of 30 s); five seconds in, to look ordinary.
START = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)


_CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_CHEAP_DEFAULT_HASH = _CHEAP_ARGON2.hash(DEFAULT_PASSWORD)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    """argon2 at its lowest cost in these tests, which hash and verify hundreds of passwords
    and recovery codes: the same algorithm and code path, without seconds of CPU per test.
    (Each hash carries its own parameters, so production-cost hashes still verify.)"""
    monkeypatch.setattr(security, "_hasher", _CHEAP_ARGON2)
    monkeypatch.setattr(factories, "_DEFAULT_HASH", _CHEAP_DEFAULT_HASH)


@dataclass
class Clock:
    """The API's clock in a test: set, and moved forward by hand (never by waiting)."""

    now: datetime = START

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock()
    app.dependency_overrides[utc_now] = lambda: clock.now
    return clock


@pytest.fixture
def configure(monkeypatch) -> Callable[..., Settings]:
    """``configure(login_max_failures_per_account=3)`` changes the running settings for one test."""

    def apply(**values: Any) -> Settings:
        settings = get_settings()
        for name, value in values.items():
            assert hasattr(settings, name), name
            monkeypatch.setattr(settings, name, value)
        return settings

    return apply


@pytest.fixture
def install(monkeypatch, tmp_path) -> Iterator[Settings]:
    """The running settings of an install, not the test suite's: its keys are its own, made
    under its own ITSM_HOME."""
    monkeypatch.setenv("ITSM_ENVIRONMENT", "development")
    monkeypatch.setenv("ITSM_HOME", str(tmp_path))
    monkeypatch.setenv("ITSM_RUN_WORKER", "false")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def login(client) -> Callable[..., Any]:
    """``login(email, password, **extra)`` → the response of POST /api/v1/auth/login."""

    def post(email: str, password: str = DEFAULT_PASSWORD, **extra: Any):
        return client.post(
            "/api/v1/auth/login", json={"email": email, "password": password, **extra}
        )

    return post


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def totp_code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def wrong_code(secret: str, at: datetime) -> str:
    """A six-digit code that is valid for no step in the accepted window around ``at``."""
    valid = {pyotp.TOTP(secret).at(at, counter_offset=offset) for offset in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in valid)


@pytest.fixture
def mfa_user(factory, session) -> Callable[..., tuple[User, str]]:
    """``mfa_user(roles=...)`` → a user with MFA active and their TOTP secret."""

    def make(**fields: Any) -> tuple[User, str]:
        secret = pyotp.random_base32()
        user = factory.user(mfa_secret=encryption.encrypt(secret), mfa_enabled=True, **fields)
        return user, secret

    return make
