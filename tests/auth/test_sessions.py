"""Sessions end when they should: password changes and resets, MFA resets, deactivation and
logout stop access tokens at once; a login ends 30 days after it began however often it is
refreshed; and a token signed with the repository's built-in secret opens nothing outside the
test suite."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from operational.auth.security import JWT_ALGORITHM, create_access_token
from operational.core.keys import BUILT_IN_SECRET_KEY
from tests.auth.conftest import bearer, totp_code
from tests.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "a-much-better-passphrase"


def _refresh(client, token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def _change_own_password(client, factory, user, admin, phone):
    return client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(phone["access_token"]),
    )


def _reset_password(client, factory, user, admin, phone):
    return client.post(f"/api/v1/users/{user.id}/password-reset", headers=admin)


def _reset_mfa(client, factory, user, admin, phone):
    return client.post(f"/api/v1/users/{user.id}/mfa-reset", headers=admin)


def _deactivate_and_reactivate(client, factory, user, admin, phone):
    # Reactivating must not bring the old tokens back to life.
    client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin)
    return client.patch(f"/api/v1/users/{user.id}", json={"is_active": True}, headers=admin)


@pytest.mark.parametrize(
    "end_sessions",
    [_change_own_password, _reset_password, _reset_mfa, _deactivate_and_reactivate],
    ids=["password change", "password reset", "MFA reset", "deactivation"],
)
def test_every_session_ends_at_once(client, factory, mfa_user, login, clock, end_sessions):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    user, secret = mfa_user()
    phone = login(user.email, totp_code=totp_code(secret, clock.now)).json()
    clock.advance(seconds=30)
    laptop = login(user.email, totp_code=totp_code(secret, clock.now)).json()
    for device in (phone, laptop):
        assert client.get("/api/v1/auth/me", headers=bearer(device["access_token"])).is_success

    done = end_sessions(client, factory, user, admin, phone)

    assert done.is_success, done.text
    for device in (phone, laptop):
        refused = client.get("/api/v1/auth/me", headers=bearer(device["access_token"]))
        assert "session has ended" in assert_problem(refused, 401, "unauthorized")["detail"]
        assert_problem(_refresh(client, device["refresh_token"]), 401, "invalid-refresh-token")
    # A token issued after the change works (here a test's token; users sign in again).
    assert client.get("/api/v1/auth/me", headers=factory.auth_headers(user)).is_success


def test_logout_ends_its_access_token_at_once_and_other_logins_refresh(client, factory, login):
    user = factory.user()
    phone, laptop = login(user.email).json(), login(user.email).json()

    out = client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": phone["refresh_token"]},
        headers=bearer(phone["access_token"]),
    )

    assert out.status_code == 204
    assert_problem(
        client.get("/api/v1/auth/me", headers=bearer(phone["access_token"])), 401, "unauthorized"
    )
    assert_problem(_refresh(client, phone["refresh_token"]), 401, "invalid-refresh-token")
    # The laptop's access token was issued before the logout too: its login carries on with the
    # next refresh, which is what clients do on a 401.
    assert_problem(
        client.get("/api/v1/auth/me", headers=bearer(laptop["access_token"])), 401, "unauthorized"
    )
    renewed = _refresh(client, laptop["refresh_token"])
    assert renewed.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(renewed.json()["access_token"])).is_success


def test_logout_everywhere_ends_every_access_token(client, factory, login):
    user = factory.user()
    first, second = login(user.email).json(), login(user.email).json()

    out = client.post(
        "/api/v1/auth/logout", json={"everywhere": True}, headers=bearer(second["access_token"])
    )

    assert out.status_code == 204
    for device in (first, second):
        assert_problem(
            client.get("/api/v1/auth/me", headers=bearer(device["access_token"])),
            401,
            "unauthorized",
        )
        assert_problem(_refresh(client, device["refresh_token"]), 401, "invalid-refresh-token")


def test_a_login_ends_after_its_absolute_lifetime_however_often_it_is_refreshed(
    client, factory, login, clock, configure
):
    configure(refresh_token_days=14, refresh_family_days=30)
    started = clock.now
    token = login(factory.user().email).json()["refresh_token"]

    for _ in range(2):  # days 10 and 20: each rotation would otherwise reach 14 days further
        clock.advance(days=10)
        rotated = _refresh(client, token)
        assert rotated.status_code == 200, rotated.text
        token = rotated.json()["refresh_token"]
    ends = datetime.fromisoformat(rotated.json()["refresh_token_expires_at"])
    assert ends == started + timedelta(days=30)  # not day 34

    clock.advance(days=10, seconds=-1)  # the last second of day 30
    rotated = _refresh(client, token)
    assert rotated.status_code == 200, rotated.text
    clock.advance(seconds=1)
    refused = _refresh(client, rotated.json()["refresh_token"])
    assert (
        "more than 30 days ago" in assert_problem(refused, 401, "invalid-refresh-token")["detail"]
    )


def test_the_lifetime_setting_applies_to_logins_already_running(
    client, factory, login, clock, configure
):
    token = login(factory.user().email).json()["refresh_token"]
    clock.advance(days=3)
    configure(refresh_family_days=2)

    assert_problem(_refresh(client, token), 401, "invalid-refresh-token")


def _built_in_token(user_id: int) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "type": "access", "iat": now, "exp": now + timedelta(minutes=5)}
    return jwt.encode(claims, BUILT_IN_SECRET_KEY, algorithm=JWT_ALGORITHM)


def test_a_token_signed_with_the_built_in_secret_opens_nothing_outside_the_tests(
    client, factory, request
):
    admin = factory.user(roles=("admin",))
    forged = bearer(_built_in_token(admin.id))
    # Under the test suite the built-in secret is the key, so the same token is accepted ...
    assert client.get("/api/v1/auth/me", headers=forged).status_code == 200

    settings = request.getfixturevalue("install")

    # ... and anywhere else the install signs with its own key, made on first start.
    assert settings.secret_key.get_secret_value() != BUILT_IN_SECRET_KEY
    assert_problem(client.get("/api/v1/auth/me", headers=forged), 401, "unauthorized")
    assert_problem(client.get("/api/v1/users", headers=forged), 401, "unauthorized")
    own = bearer(create_access_token(user_id=admin.id))
    assert client.get("/api/v1/users", headers=own).status_code == 200
