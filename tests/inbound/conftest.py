from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.mail import intake
from operational.core.config import get_settings

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def fixture_mail(name: str, number: str | None = None) -> bytes:
    """A mail of tests/fixtures/mail, with ``{number}`` filled in."""
    raw = (MAIL / f"{name}.eml").read_bytes()
    return raw.replace(b"{number}", (number or "INC9999999").encode())


@pytest.fixture
def alice(factory):
    return factory.user(roles=("requester",), email="alice@example.com", display_name="Alice")


@pytest.fixture
def bob(factory):
    return factory.user(roles=("requester",), email="bob@example.com", display_name="Bob")


@pytest.fixture
def receive(session) -> Callable[..., intake.Received]:
    """``receive(raw, now=..., **settings)``: one mail through intake, with settings changed."""

    def run(raw: bytes, now=None, **overrides) -> intake.Received:
        settings = get_settings().model_copy(update=overrides)
        return intake.receive(session=session, raw=raw, now=now, settings=settings)

    return run
