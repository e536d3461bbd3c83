from tests.auth.conftest import bearer
from tests.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "a-much-better-secret-2026"


def test_one_time_password_opens_only_the_password_change(client, factory, login):
    admin = factory.user(roles=("admin",), must_change_password=True)
    token = login(admin.email).json()["access_token"]

    refused = client.get("/api/v1/users", headers=bearer(token))
    assert_problem(refused, 403)
    assert refused.json()["password_change_required"] is True
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200

    changed = client.post(
        "/api/v1/auth/password",
        headers=bearer(token),
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    # The change ended the session that made it: sign in again, with the new password.
    assert_problem(client.get("/api/v1/users", headers=bearer(token)), 401, "unauthorized")
    fresh = login(admin.email, NEW_PASSWORD).json()
    assert fresh["must_change_password"] is False
    assert client.get("/api/v1/users", headers=bearer(fresh["access_token"])).status_code == 200
