"""Sign-in, refresh-token rotation and logout through the API."""

from datetime import timedelta

import jwt
from sqlalchemy import select

from operational.auth.models import LoginAttempt, RefreshToken
from operational.auth.security import decode_access_token
from operational.auth.tokens import hash_token
from operational.core.config import get_settings
from operational.events import service as events
from tests.auth.conftest import START, bearer
from tests.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD


def _attempts(session, email):
    return session.scalars(
        select(LoginAttempt).where(LoginAttempt.email == email).order_by(LoginAttempt.id)
    ).all()


def test_login_returns_tokens_that_open_the_api(client, factory, login, clock, session):
    user = factory.user(roles=("agent",), email="Ada@Example.com")

    response = login("  ada@EXAMPLE.com ", DEFAULT_PASSWORD)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["scope"] is None and body["must_change_password"] is False
    assert body["refresh_token_expires_at"].startswith("2026-03-16T09:00:05")  # 14 days
    claims = decode_access_token(body["access_token"])
    assert claims["sub"] == str(user.id) and "scope" not in claims
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user.id

    session.refresh(user)
    assert user.last_login_at == START
    stored = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(body["refresh_token"]))
    )
    assert stored.user_id == user.id and stored.client == "testclient"
    logged_in = events.list_for(session=session, entity_type="user", entity_id=user.id)[-1]
    assert logged_in.kind == "user_logged_in" and logged_in.actor_id == user.id
    assert [(a.succeeded, a.reason) for a in _attempts(session, "ada@example.com")] == [
        (True, "ok")
    ]


def test_wrong_password_unknown_email_and_inactive_account_look_the_same(
    factory, login, clock, session
):
    factory.user(email="known@example.com")
    factory.user(email="gone@example.com", is_active=False)

    answers = [
        login("known@example.com", "not-the-password"),
        login("nobody@example.com", DEFAULT_PASSWORD),
        login("gone@example.com", DEFAULT_PASSWORD),  # right password, inactive account
    ]

    bodies = [assert_problem(answer, 401, "invalid-credentials") for answer in answers]
    assert {body["detail"] for body in bodies} == {"The email or password is wrong"}
    assert all(answer.headers["www-authenticate"] == "Bearer" for answer in answers)
    assert [a.reason for a in _attempts(session, "known@example.com")] == ["bad_password"]
    assert [a.reason for a in _attempts(session, "nobody@example.com")] == ["unknown_email"]
    assert [a.reason for a in _attempts(session, "gone@example.com")] == ["inactive"]


def test_imported_user_without_password_cannot_log_in(factory, login, session):
    user = factory.user(email="imported@example.com")
    user.password_hash = None
    session.flush()
    assert_problem(login("imported@example.com", DEFAULT_PASSWORD), 401, "invalid-credentials")


def test_login_body_is_validated(client):
    response = client.post("/api/v1/auth/login", json={"email": "a@example.com"})
    body = assert_problem(response, 422, "validation-error")
    assert ["body", "password"] in [error["location"] for error in body["errors"]]


def test_refresh_rotates_within_the_family(client, factory, login, clock, session):
    user = factory.user()
    first = login(user.email).json()

    clock.advance(minutes=5)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert decode_access_token(rotated["access_token"])["sub"] == str(user.id)
    old = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(first["refresh_token"]))
    )
    new = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(rotated["refresh_token"]))
    )
    assert old.used_at == START + timedelta(minutes=5) and old.revoked_at is None
    assert new.family_id == old.family_id and new.used_at is None


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(client, factory, login, session):
    user = factory.user()
    first = login(user.email).json()["refresh_token"]
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).json()
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    latest = third.json()["refresh_token"]
    other_login = login(user.email).json()["refresh_token"]

    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first})

    assert_problem(reuse, 401, "refresh-token-reused")
    # The thief (or the owner) holding the newest token is signed out too ...
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": latest})
    assert_problem(after, 401, "invalid-refresh-token")
    family = session.scalars(
        select(RefreshToken).where(
            RefreshToken.family_id
            == select(RefreshToken.family_id)
            .where(RefreshToken.token_hash == hash_token(first))
            .scalar_subquery()
        )
    ).all()
    assert len(family) == 3 and all(token.revoked_at is not None for token in family)
    # ... but another login of the same user is a different family and still works.
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": other_login}).status_code == 200
    )


def test_unknown_and_expired_refresh_tokens_are_refused(client, factory, login, clock):
    user = factory.user()
    token = login(user.email).json()["refresh_token"]

    unknown = client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert_problem(unknown, 401, "invalid-refresh-token")

    clock.advance(days=14)
    expired = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert_problem(expired, 401, "invalid-refresh-token")
    assert "expired" in expired.json()["detail"]


def test_refresh_stops_when_the_account_is_deactivated(client, factory, login, session):
    user = factory.user()
    token = login(user.email).json()["refresh_token"]
    user.is_active = False
    session.flush()

    refused = client.post("/api/v1/auth/refresh", json={"refresh_token": token})

    assert_problem(refused, 401, "invalid-refresh-token")


def test_logout_revokes_the_presented_login_only(client, factory, login):
    user = factory.user()
    phone = login(user.email).json()
    laptop = login(user.email).json()
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})

    out = client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": phone["refresh_token"]},  # a spent token still names its login
        headers=bearer(phone["access_token"]),
    )

    assert out.status_code == 204
    phone_next = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
    )
    assert_problem(phone_next, 401, "invalid-refresh-token")
    laptop_next = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}
    )
    assert laptop_next.status_code == 200


def test_logout_everywhere_revokes_every_login(client, factory, login):
    user = factory.user()
    tokens = [login(user.email).json() for _ in range(2)]

    out = client.post(
        "/api/v1/auth/logout", json={"everywhere": True}, headers=bearer(tokens[0]["access_token"])
    )

    assert out.status_code == 204
    for pair in tokens:
        again = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert_problem(again, 401, "invalid-refresh-token")


def test_logout_refuses_someone_elses_token_and_needs_something_to_revoke(client, factory, login):
    mine = login(factory.user().email).json()
    theirs = login(factory.user().email).json()

    foreign = client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": theirs["refresh_token"]},
        headers=bearer(mine["access_token"]),
    )
    assert_problem(foreign, 401, "invalid-refresh-token")
    empty = client.post("/api/v1/auth/logout", json={}, headers=bearer(mine["access_token"]))
    assert_problem(empty, 422, "validation-error")
    # Their login survived.
    still = client.post("/api/v1/auth/refresh", json={"refresh_token": theirs["refresh_token"]})
    assert still.status_code == 200


def test_expired_or_forged_access_tokens_are_refused(client, factory):
    user = factory.user()
    secret = get_settings().secret_key.get_secret_value()
    expired = jwt.encode({"sub": str(user.id), "type": "access", "exp": 1_000_000_000}, secret)
    forged = jwt.encode({"sub": str(user.id), "type": "access", "exp": 4_102_444_800}, "x" * 40)

    for token, detail in [(expired, "expired"), (forged, "not valid")]:
        response = client.get("/api/v1/auth/me", headers=bearer(token))
        body = assert_problem(response, 401, "unauthorized")
        assert detail in body["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert_problem(client.get("/api/v1/auth/me"), 401, "unauthorized")
