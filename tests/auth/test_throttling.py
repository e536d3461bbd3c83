"""Account lockout (423) and per-client throttling (429), with hand-computed Retry-After."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from operational.auth.models import LoginAttempt
from tests.auth.conftest import START
from tests.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD


@pytest.fixture
def limits(configure):
    # Small limits keep the tests short; the arithmetic is the same as with the defaults.
    return configure(
        login_max_failures_per_account=3,
        login_max_failures_per_client=5,
        login_failure_window_minutes=15,
        login_lockout_minutes=15,
    )


def test_third_failure_locks_the_account_for_fifteen_minutes(
    factory, login, clock, limits, session
):
    user = factory.user(email="target@example.com")

    assert_problem(login(user.email, "guess-number-1"), 401, "invalid-credentials")
    clock.advance(minutes=1)
    assert_problem(login(user.email, "guess-number-2"), 401, "invalid-credentials")
    clock.advance(minutes=1)
    locking = login(user.email, "guess-number-3")  # at 09:02:05, locked until 09:17:05

    body = assert_problem(locking, 423, "account-locked")
    assert locking.headers["retry-after"] == "900"
    assert body["retry_after"] == 900
    assert body["locked_until"] == (START + timedelta(minutes=17)).isoformat()
    assert user.locked_until == START + timedelta(minutes=17)

    # The right password does not help while locked; nor is the wait extended by trying.
    clock.advance(minutes=10)  # 09:12:05
    still = login(user.email, DEFAULT_PASSWORD)
    assert_problem(still, 423, "account-locked")
    assert still.headers["retry-after"] == "300"
    clock.advance(seconds=299)
    assert login(user.email, DEFAULT_PASSWORD).headers["retry-after"] == "1"

    clock.advance(seconds=1)  # 09:17:05: the lock has ended
    assert login(user.email, DEFAULT_PASSWORD).status_code == 200
    assert user.failed_login_count == 0 and user.locked_until is None
    reasons = session.scalars(
        select(LoginAttempt.reason)
        .where(LoginAttempt.email == user.email)
        .order_by(LoginAttempt.id)
    ).all()
    assert reasons == ["bad_password"] * 3 + ["account_locked"] * 2 + ["ok"]


def test_unknown_email_locks_exactly_like_a_real_account(login, clock, limits):
    answers = [login("ghost@example.com", f"guess-{n}") for n in range(4)]
    assert [answer.status_code for answer in answers] == [401, 401, 423, 423]
    assert answers[2].headers["retry-after"] == "900"


def test_failures_outside_the_window_do_not_add_up(factory, login, clock, limits):
    user = factory.user()
    login(user.email, "guess-number-1")
    clock.advance(minutes=10)
    login(user.email, "guess-number-2")
    clock.advance(minutes=6)  # the first failure is now 16 minutes old

    assert_problem(login(user.email, "guess-number-3"), 401, "invalid-credentials")


def test_a_successful_login_starts_the_count_again(factory, login, clock, limits):
    user = factory.user()
    login(user.email, "guess-number-1")
    login(user.email, "guess-number-2")
    assert login(user.email).status_code == 200

    assert login(user.email, "guess-number-3").status_code == 401
    assert login(user.email, "guess-number-4").status_code == 401
    assert login(user.email, "guess-number-5").status_code == 423


def test_admin_unlock_lifts_the_lock(client, factory, login, clock, limits):
    admin = factory.user(roles=("admin",))
    user = factory.user()
    for n in range(3):
        login(user.email, f"guess-number-{n}")
    assert login(user.email).status_code == 423

    unlocked = client.post(f"/api/v1/users/{user.id}/unlock", headers=factory.auth_headers(admin))

    assert unlocked.status_code == 204
    assert user.locked_until is None
    assert login(user.email).status_code == 200


def test_many_failures_from_one_client_get_429_until_they_age_out(
    factory, login, clock, limits, session
):
    innocent = factory.user()
    for n in range(5):  # five different accounts, so no account lock: 09:00:05 .. 09:04:05
        assert login(f"spray-{n}@example.com", "Password1234").status_code == 401
        clock.advance(minutes=1)

    throttled = login(innocent.email, DEFAULT_PASSWORD)  # at 09:05:05

    body = assert_problem(throttled, 429, "login-throttled")
    # The oldest of the five failures (09:00:05) leaves the window at 09:15:05: 600 s from now.
    assert throttled.headers["retry-after"] == "600"
    assert body["retry_after"] == 600
    # Refused attempts are recorded but do not count, so waiting is enough.
    clock.advance(seconds=599)
    assert login(innocent.email).status_code == 429
    clock.advance(seconds=1)
    assert login(innocent.email).status_code == 200
    recorded = session.scalars(
        select(LoginAttempt.reason).where(LoginAttempt.email == innocent.email)
    ).all()
    assert sorted(recorded) == ["client_throttled", "client_throttled", "ok"]


def test_asking_for_the_mfa_code_is_not_a_failure(mfa_user, login, clock, limits):
    user, _ = mfa_user()
    for _ in range(6):  # more than both limits
        assert login(user.email).json()["mfa_required"] is True
