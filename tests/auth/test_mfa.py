"""TOTP enrolment, login with and without a code, replay, recovery codes, and roles that must
use MFA."""

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from operational.auth import mfa
from operational.auth.models import RecoveryCode
from operational.auth.security import decode_access_token
from operational.events import service as events
from tests.auth.conftest import bearer, totp_code, wrong_code
from tests.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD

# RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" gives 94287082 at T=59 s
# (time-step 1) and 07081804 at T=1111111109 s (step 37037036); pyotp keeps the last 6 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_codes_match_the_rfc_6238_test_vectors():
    assert mfa.matching_step(secret=RFC_SECRET, code="287082", at=_at(59), last_used_step=None) == 1
    step = mfa.matching_step(
        secret=RFC_SECRET, code="081 804", at=_at(1111111109), last_used_step=None
    )
    assert step == 37037036


@pytest.mark.parametrize(
    ("seconds", "last_used_step", "expected"),
    [
        (30, None, 1),  # step 1 is the current step
        (89, None, 1),  # step 2 now: one step behind is accepted (clock drift)
        (29, None, 1),  # step 0 now: one step ahead is accepted
        (90, None, None),  # step 3 now: two steps behind is refused
        (59, 1, None),  # step 1 already used: a replay
        (59, 2, None),  # older than a code already used
        (59, 0, 1),
    ],
)
def test_a_code_is_valid_one_step_either_side_and_only_once(seconds, last_used_step, expected):
    step = mfa.matching_step(
        secret=RFC_SECRET, code="287082", at=_at(seconds), last_used_step=last_used_step
    )
    assert step == expected


@pytest.mark.parametrize("code", ["", "28708", "2870821", "abcdef"])
def test_malformed_codes_are_refused(code):
    assert mfa.matching_step(secret=RFC_SECRET, code=code, at=_at(59), last_used_step=None) is None


def test_enrol_verify_login_replay_and_recovery(client, factory, login, clock, session):
    user = factory.user(email="mfa@example.com", roles=("agent",))
    token = login(user.email).json()["access_token"]

    # Enrolment asks for the password again: a stolen access token alone cannot enrol.
    for body in [{}, {"password": "not-the-password"}]:
        refused = client.post("/api/v1/auth/mfa/enroll", json=body, headers=bearer(token))
        assert refused.status_code in (400, 422), refused.text
    assert_problem(refused, 400, "wrong-password")

    # Enrol: secret, otpauth URI and QR code.
    enrolment = client.post(
        "/api/v1/auth/mfa/enroll", json={"password": DEFAULT_PASSWORD}, headers=bearer(token)
    )
    assert enrolment.status_code == 200, enrolment.text
    enrolled = enrolment.json()
    secret = enrolled["secret"]
    uri = urlparse(enrolled["otpauth_uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/ITSM:mfa%40example.com")
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["ITSM"]}
    assert enrolled["qr_code"].startswith("data:image/png;base64,")
    assert base64.b64decode(enrolled["qr_code"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert enrolled["valid_window"] == 1
    # Not active until verified: a login without a code still works.
    assert login(user.email).status_code == 200

    # Verify with a wrong code, then the right one: MFA on, ten recovery codes. The password
    # is asked again, and a right code with a wrong password does not use the code up.
    wrong = client.post(
        "/api/v1/auth/mfa/verify",
        json={"code": wrong_code(secret, clock.now), "password": DEFAULT_PASSWORD},
        headers=bearer(token),
    )
    assert_problem(wrong, 400, "invalid-mfa-code")
    no_password = client.post(
        "/api/v1/auth/mfa/verify",
        json={"code": totp_code(secret, clock.now), "password": "not-the-password"},
        headers=bearer(token),
    )
    assert_problem(no_password, 400, "wrong-password")
    verified = client.post(
        "/api/v1/auth/mfa/verify",
        json={"code": totp_code(secret, clock.now), "password": DEFAULT_PASSWORD},
        headers=bearer(token),
    )
    assert verified.status_code == 200, verified.text
    recovery = verified.json()["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    stored = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10 and not {row.code_hash for row in stored} & set(recovery)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).json()["mfa_enabled"] is True
    enabled = events.list_for(session=session, entity_type="user", entity_id=user.id)[-1]
    assert (enabled.kind, enabled.new_value) == ("user_mfa_enabled", "True")

    # Login without a code: 401 that asks for one.
    no_code = login(user.email)
    body = assert_problem(no_code, 401, "mfa-required")
    assert body["mfa_required"] is True
    # The code used to verify cannot be used again within its window.
    assert login(user.email, totp_code=totp_code(secret, clock.now)).json()["mfa_required"]

    # Thirty seconds later the next code works, once.
    clock.advance(seconds=30)
    code = totp_code(secret, clock.now)
    with_code = login(user.email, totp_code=code)
    assert with_code.status_code == 200, with_code.text
    assert with_code.json()["scope"] is None
    replay = login(user.email, totp_code=code)
    assert assert_problem(replay, 401, "mfa-required")["mfa_required"] is True
    # A wrong password with a good code is still a wrong password.
    clock.advance(seconds=30)
    bad_password = login(user.email, "wrong-password-123", totp_code=totp_code(secret, clock.now))
    assert_problem(bad_password, 401, "invalid-credentials")

    # A recovery code works once, however it is typed.
    first = login(user.email, recovery_code=recovery[0])
    assert first.status_code == 200, first.text
    assert_problem(login(user.email, recovery_code=recovery[0]), 401, "mfa-required")
    assert login(user.email, recovery_code=f" {recovery[1].upper()} ").status_code == 200
    assert_problem(login(user.email, recovery_code="00000-00000"), 401, "mfa-required")
    assert mfa.unused_recovery_code_count(session=session, user=user) == 8


def test_enrolling_twice_or_verifying_without_enrolling_is_a_conflict(
    client, factory, mfa_user, clock
):
    plain = factory.user()
    early = client.post(
        "/api/v1/auth/mfa/verify",
        json={"code": "123456", "password": DEFAULT_PASSWORD},
        headers=factory.auth_headers(plain),
    )
    assert_problem(early, 409, "mfa-not-enrolling")

    user, _ = mfa_user()
    again = client.post(
        "/api/v1/auth/mfa/enroll",
        json={"password": DEFAULT_PASSWORD},
        headers=factory.auth_headers(user),
    )
    assert_problem(again, 409, "mfa-already-enabled")


def test_replacing_recovery_codes_needs_a_fresh_code(client, mfa_user, factory, clock, session):
    user, secret = mfa_user()
    headers = factory.auth_headers(user)
    old = mfa.replace_recovery_codes(session=session, user=user)

    refused = client.post(
        "/api/v1/auth/mfa/recovery-codes",
        json={"code": wrong_code(secret, clock.now)},
        headers=headers,
    )
    assert_problem(refused, 400, "invalid-mfa-code")
    replaced = client.post(
        "/api/v1/auth/mfa/recovery-codes",
        json={"code": totp_code(secret, clock.now)},
        headers=headers,
    )

    assert replaced.status_code == 200
    new = replaced.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert not mfa.consume_recovery_code(session=session, user=user, code=old[0], at=clock.now)
    assert mfa.consume_recovery_code(session=session, user=user, code=new[0], at=clock.now)


def test_role_that_requires_mfa_can_only_enrol_until_it_has(
    client, factory, login, clock, configure
):
    configure(mfa_required_roles=["admin"])
    admin = factory.user(roles=("admin",), email="boss@example.com")
    agent = factory.user(roles=("agent",))

    # Agents are not covered by the policy.
    assert login(agent.email).json()["scope"] is None

    first = login(admin.email)
    assert first.status_code == 200, first.text
    session_body = first.json()
    assert session_body["scope"] == "mfa_enrolment" and session_body["refresh_token"] is None
    assert decode_access_token(session_body["access_token"])["scope"] == "mfa_enrolment"
    limited = bearer(session_body["access_token"])

    for method, path in [("GET", "/api/v1/auth/me"), ("GET", "/api/v1/users")]:
        refused = client.request(method, path, headers=limited)
        assert assert_problem(refused, 403, "forbidden")["mfa_required"] is True

    password = {"password": DEFAULT_PASSWORD}
    secret = client.post("/api/v1/auth/mfa/enroll", json=password, headers=limited).json()["secret"]
    verified = client.post(
        "/api/v1/auth/mfa/verify",
        json={"code": totp_code(secret, clock.now), **password},
        headers=limited,
    )
    assert verified.status_code == 200

    assert_problem(login(admin.email), 401, "mfa-required")
    clock.advance(seconds=30)
    full = login(admin.email, totp_code=totp_code(secret, clock.now)).json()
    assert full["scope"] is None and full["refresh_token"]
    assert client.get("/api/v1/users", headers=bearer(full["access_token"])).status_code == 200


def test_refresh_ends_when_the_policy_starts_covering_the_role(client, factory, login, configure):
    admin = factory.user(roles=("admin",))
    token = login(admin.email, DEFAULT_PASSWORD).json()["refresh_token"]
    configure(mfa_required_roles=["admin"])

    refused = client.post("/api/v1/auth/refresh", json={"refresh_token": token})

    assert_problem(refused, 401, "invalid-refresh-token")
    assert login(admin.email).json()["scope"] == "mfa_enrolment"


def test_admin_reset_turns_mfa_off_and_ends_sessions(client, factory, mfa_user, login, clock):
    admin = factory.user(roles=("admin",))
    user, secret = mfa_user(email="lost-phone@example.com")
    refresh = login(user.email, totp_code=totp_code(secret, clock.now)).json()["refresh_token"]

    reset = client.post(f"/api/v1/users/{user.id}/mfa-reset", headers=factory.auth_headers(admin))

    assert reset.status_code == 204
    assert user.mfa_enabled is False and user.mfa_secret is None
    assert_problem(
        client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}),
        401,
        "invalid-refresh-token",
    )
    assert login(user.email).status_code == 200  # no code needed until enrolled again
