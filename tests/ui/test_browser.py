"""End to end in Debian's Chromium, against the real API and database (tests/ui/conftest.py).

Each screen is checked with axe-core (no serious or critical finding, at 1280 px and at a
phone's width) and photographed into docs/ui/ for docs/ui.md.
"""

import hashlib
import re

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, pool, text

from tests.ui.conftest import ACCOUNTS, ONE_TIME_PASSWORD
from tests.ui.pages import check_screen, sign_in

pytestmark = pytest.mark.slow


def _stored(stack, cookie_value: str) -> bool:
    """Whether the browser session of this cookie value has its row (sessions.py keys rows by
    the value's hash)."""
    engine = create_engine(stack.url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        found = connection.scalar(
            text("select count(*) from operational.ui_sessions where id = :id"),
            {"id": hashlib.sha256(cookie_value.encode()).hexdigest()},
        )
    engine.dispose()
    return found == 1


def test_sign_in_with_a_real_totp_code_then_sign_out_ends_the_session(stack, page):
    page.goto(f"{stack.base_url}/ui/")
    check_screen(page, "sign-in")
    before = next(c for c in page.context.cookies() if c["name"] == "itsm_ui")["value"]
    assert _stored(stack, before)
    account = ACCOUNTS["mfa_agent"]
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    # Without the code the API asks for it, and the page says so.
    page.get_by_text("This account uses MFA").wait_for()
    page.get_by_label("Password").fill(account.password)
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(account.totp_secret).now())
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My queue").wait_for()
    cookie = next(c for c in page.context.cookies() if c["name"] == "itsm_ui")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("() => Object.keys(localStorage).length") == 0
    # Signing in gave the session a new cookie value (no fixation): the old one's row is gone.
    assert cookie["value"] != before and _stored(stack, cookie["value"])
    assert not _stored(stack, before)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    # The old cookie opens nothing: the session ended on the server.
    stolen = httpx.get(
        f"{stack.base_url}/ui/queue", cookies={"itsm_ui": cookie["value"]}, follow_redirects=False
    )
    assert stolen.status_code == 303 and "/ui/login" in stolen.headers["location"]
    assert not _stored(stack, cookie["value"])


def test_headers_csp_and_csrf(stack, page):
    response = page.goto(f"{stack.base_url}/ui/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    sign_in(page, stack.base_url, "agent")
    page.get_by_role("heading", name="My queue").wait_for()
    # A form posted without the session's token (as another site would post it) is refused.
    refused = page.request.post(
        f"{stack.base_url}/ui/incidents", form={"title": "forged", "impact": "1", "urgency": "1"}
    )
    assert refused.status == 403 and "Form expired" in refused.text()
    wrong = page.request.post(
        f"{stack.base_url}/ui/logout", headers={"X-CSRF-Token": "not-the-token"}
    )
    assert wrong.status == 403
    page.goto(f"{stack.base_url}/ui/queue")
    page.get_by_role("heading", name="My queue").wait_for()  # still signed in


def test_lockout_message(stack, page):
    page.goto(f"{stack.base_url}/ui/login")
    for _ in range(6):
        page.get_by_label("Email").fill(ACCOUNTS["locked_out"].email)
        page.get_by_label("Password").fill("wrong-password-123")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
    page.get_by_text(re.compile("locked|Too many")).wait_for()
    check_screen(page, "sign-in-locked")


def test_one_time_password_must_be_changed_first(stack, page):
    account = ACCOUNTS["newcomer"]
    page.goto(f"{stack.base_url}/ui/login")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(ONE_TIME_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Choose a new password").wait_for()
    check_screen(page, "change-password")
    # The queue is not open yet.
    page.goto(f"{stack.base_url}/ui/queue")
    assert "/ui/login" in page.url
    page.goto(f"{stack.base_url}/ui/password")
    page.get_by_label("Current (one-time) password").fill(ONE_TIME_PASSWORD)
    page.get_by_label("New password", exact=True).fill("my-own-Long-passphrase-9")
    page.get_by_label("New password again").fill("my-own-Long-passphrase-9")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Password changed").wait_for()
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill("my-own-Long-passphrase-9")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My queue").wait_for()


def test_mfa_enrolment_shows_a_qr_code_and_recovery_codes(stack, page):
    sign_in(page, stack.base_url, "enrolling")
    page.goto(f"{stack.base_url}/ui/mfa")
    page.get_by_label("Password").fill(ACCOUNTS["enrolling"].password)
    page.get_by_role("button", name="Continue").click()
    page.locator("img.qr").wait_for()
    assert page.locator("img.qr").get_attribute("src").startswith("data:image/png")
    secret = page.locator("#mfa-secret").inner_text()
    check_screen(page, "mfa-enrol")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_label("Password").fill(ACCOUNTS["enrolling"].password)
    page.get_by_role("button", name="Turn on MFA").click()
    page.get_by_role("list", name="Recovery codes").wait_for()
    assert page.get_by_role("list", name="Recovery codes").locator("li").count() == 10
    check_screen(page, "mfa-recovery-codes")
