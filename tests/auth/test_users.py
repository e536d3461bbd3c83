"""The signed-in user, passwords, and user administration through the API."""

import pytest
from sqlalchemy import select, update

from operational.auth.models import User, UserRole
from operational.auth.permissions import ROLE_PERMISSIONS, Role
from operational.auth.security import verify_secret
from operational.events import service as events
from tests.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD


def _events(session, user):
    return [
        (event.kind, event.field, event.old_value, event.new_value)
        for event in events.list_for(session=session, entity_type="user", entity_id=user.id)
    ]


def test_me_shows_roles_permissions_teams_and_mfa(client, factory):
    desk = factory.team(name="Service Desk")
    network = factory.team(name="Network")
    user = factory.user(
        roles=("manager", "auditor"),
        teams=(network, desk),
        display_name="Grace",
        timezone="Europe/Oslo",
    )

    me = client.get("/api/v1/auth/me", headers=factory.auth_headers(user))

    assert me.status_code == 200
    body = me.json()
    assert body["display_name"] == "Grace" and body["timezone"] == "Europe/Oslo"
    assert body["roles"] == ["auditor", "manager"]
    assert body["permissions"] == sorted(
        ROLE_PERMISSIONS[Role.manager] | ROLE_PERMISSIONS[Role.auditor]
    )
    assert [team["team_name"] for team in body["teams"]] == ["Network", "Service Desk"]
    assert body["teams"][0] == {"team_id": network.id, "team_name": "Network", "is_available": True}
    assert body["mfa_enabled"] is False and body["must_change_password"] is False


def test_users_change_their_own_name_and_time_zone(client, factory, session):
    user = factory.user(display_name="Old Name")
    headers = factory.auth_headers(user)

    changed = client.patch(
        "/api/v1/auth/me",
        json={"display_name": "New Name", "timezone": "Asia/Tokyo"},
        headers=headers,
    )
    assert changed.status_code == 200
    assert (changed.json()["display_name"], changed.json()["timezone"]) == (
        "New Name",
        "Asia/Tokyo",
    )
    assert ("field_changed", "timezone", "UTC", "Asia/Tokyo") in _events(session, user)

    bad_zone = client.patch("/api/v1/auth/me", json={"timezone": "Mars/Olympus"}, headers=headers)
    assert_problem(bad_zone, 422, "unknown-timezone")


def test_password_change_needs_the_current_password_and_a_strong_new_one(client, factory, login):
    user = factory.user(must_change_password=True)
    headers = factory.auth_headers(user)

    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "not-it", "new_password": "a-much-better-passphrase"},
        headers=headers,
    )
    assert_problem(wrong, 400, "wrong-password")
    weak = client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "password"},
        headers=headers,
    )
    body = assert_problem(weak, 422, "weak-password")
    assert body["problems"] == [
        "must be at least 12 characters long",
        "is one of the most common passwords",
    ]
    same = client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": DEFAULT_PASSWORD},
        headers=headers,
    )
    assert assert_problem(same, 422, "weak-password")["problems"] == [
        "must differ from the current one"
    ]

    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a-much-better-passphrase"},
        headers=headers,
    )

    assert changed.status_code == 204
    assert user.must_change_password is False
    assert login(user.email, "a-much-better-passphrase").status_code == 200
    assert login(user.email, DEFAULT_PASSWORD).status_code == 401


def test_admin_creates_a_user_with_a_one_time_password(client, factory, login, session):
    admin = factory.user(roles=("admin",))
    desk = factory.team(name="Desk One")

    created = client.post(
        "/api/v1/users",
        json={"email": " New.Agent@Example.com", "roles": ["agent"], "teams": [desk.id]},
        headers=factory.auth_headers(admin),
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "new.agent@example.com" and body["display_name"] == "new.agent"
    assert body["roles"] == ["agent"] and body["must_change_password"] is True
    assert [team["team_id"] for team in body["teams"]] == [desk.id]
    one_time = body["one_time_password"]
    assert len(one_time) == 20
    first_login = login("new.agent@example.com", one_time)
    assert first_login.json()["must_change_password"] is True
    kinds = [kind for kind, *_ in _events(session, session.get(User, body["id"]))]
    assert kinds[0] == "user_created"


def test_admin_may_set_the_password_instead(client, factory, login):
    admin = factory.user(roles=("admin",))
    created = client.post(
        "/api/v1/users",
        json={
            "email": "chosen@example.com",
            "password": "chosen-by-the-admin",
            "roles": ["requester", "analyst"],
            "display_name": "Chosen",
            "timezone": "America/New_York",
        },
        headers=factory.auth_headers(admin),
    ).json()
    assert created["one_time_password"] is None and created["must_change_password"] is False
    assert created["roles"] == ["analyst", "requester"]
    assert login("chosen@example.com", "chosen-by-the-admin").status_code == 200


def test_user_creation_refusals(client, factory):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    factory.user(email="taken@example.com")

    def create(**fields):
        body = {"email": "fresh@example.com", "roles": ["agent"], **fields}
        return client.post("/api/v1/users", json=body, headers=admin)

    assert_problem(create(email="TAKEN@example.com"), 409, "email-taken")
    assert_problem(create(password="short"), 422, "weak-password")
    assert_problem(create(teams=[999_999_999]), 422, "unknown-team")
    assert_problem(create(timezone="Nowhere/Land"), 422, "unknown-timezone")
    assert_problem(create(email="not-an-email"), 422, "validation-error")
    assert_problem(create(roles=[]), 422, "validation-error")
    assert_problem(create(roles=["superuser"]), 422, "validation-error")


def test_list_users_filters_sorts_and_pages(client, factory):
    desk = factory.team(name="List Desk")
    for name, roles, active in [
        ("Cleo", ("agent",), True),
        ("Abel", ("agent", "manager"), True),
        ("Bea", ("manager",), False),
        ("Dirk", ("agent",), True),
    ]:
        factory.user(
            display_name=name,
            email=f"{name.lower()}@list.example",
            roles=roles,
            is_active=active,
            teams=(desk,) if name in ("Cleo", "Bea") else (),
        )
    headers = factory.auth_headers(factory.user(roles=("manager",)))  # user:read

    def names(**params):
        response = client.get(
            "/api/v1/users", params={"q": "@list.example", **params}, headers=headers
        )
        assert response.status_code == 200, response.text
        return [user["display_name"] for user in response.json()["items"]]

    assert names(sort="display_name") == ["Abel", "Bea", "Cleo", "Dirk"]
    assert names(sort="-display_name", role="manager") == ["Bea", "Abel"]
    assert names(sort="display_name", team=desk.id) == ["Bea", "Cleo"]
    assert names(sort="display_name", active="false") == ["Bea"]
    assert names(sort="display_name", active="true", role="agent") == ["Abel", "Cleo", "Dirk"]
    page = client.get(
        "/api/v1/users",
        params={"q": "list.example", "sort": "display_name", "page": 2, "size": 3},
        headers=headers,
    ).json()
    assert (page["total"], page["page"], page["size"]) == (4, 2, 3)
    assert [user["display_name"] for user in page["items"]] == ["Dirk"]
    bad_sort = client.get("/api/v1/users", params={"sort": "password_hash"}, headers=headers)
    assert_problem(bad_sort, 400)
    assert_problem(client.get("/api/v1/users", params={"role": "king"}, headers=headers), 422)


def test_get_one_user_or_404(client, factory):
    headers = factory.auth_headers(factory.user(roles=("auditor",)))
    target = factory.user(display_name="Target")
    assert (
        client.get(f"/api/v1/users/{target.id}", headers=headers).json()["display_name"] == "Target"
    )
    assert_problem(client.get("/api/v1/users/999999999", headers=headers), 404, "not-found")
    assert_problem(client.get(f"/api/v1/users/{2**63}", headers=headers), 422)


def test_changing_roles_and_deactivating_are_recorded(client, factory, login, session):
    admin = factory.user(roles=("admin",))
    headers = factory.auth_headers(admin)
    user = factory.user(roles=("agent",))
    refresh = login(user.email).json()["refresh_token"]

    promoted = client.patch(
        f"/api/v1/users/{user.id}", json={"roles": ["manager", "agent"]}, headers=headers
    )
    assert promoted.status_code == 200 and promoted.json()["roles"] == ["agent", "manager"]
    deactivated = client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False}, headers=headers
    )
    assert deactivated.json()["is_active"] is False

    assert _events(session, user)[-2:] == [
        ("user_roles_changed", "roles", "agent", "agent,manager"),
        ("user_deactivated", "is_active", "True", "False"),
    ]
    stored_roles = session.scalars(select(UserRole.role).where(UserRole.user_id == user.id))
    assert sorted(stored_roles) == ["agent", "manager"]
    assert_problem(login(user.email), 401, "invalid-credentials")
    assert_problem(
        client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}),
        401,
        "invalid-refresh-token",
    )
    # An access token issued before deactivation stops working at once.
    assert_problem(client.get("/api/v1/auth/me", headers=factory.auth_headers(user)), 401)

    reactivated = client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": True}, headers=headers
    )
    assert reactivated.json()["is_active"] is True
    assert _events(session, user)[-1] == ("field_changed", "is_active", "False", "True")
    assert login(user.email).status_code == 200


def test_the_last_active_admin_cannot_be_removed(client, factory, session):
    admin = factory.user(roles=("admin",))
    # Only this admin is active in this test's transaction.
    session.execute(
        update(User)
        .where(
            User.id != admin.id,
            User.id.in_(select(UserRole.user_id).where(UserRole.role == "admin")),
        )
        .values(is_active=False)
    )
    headers = factory.auth_headers(admin)

    demote = client.patch(f"/api/v1/users/{admin.id}", json={"roles": ["agent"]}, headers=headers)
    assert_problem(demote, 409, "last-admin")
    leave = client.patch(f"/api/v1/users/{admin.id}", json={"is_active": False}, headers=headers)
    assert_problem(leave, 409, "last-admin")

    second = factory.user(roles=("admin",))
    demoted = client.patch(f"/api/v1/users/{second.id}", json={"roles": ["agent"]}, headers=headers)
    assert demoted.status_code == 200


def test_admin_resets_a_forgotten_password(client, factory, login):
    admin = factory.user(roles=("admin",))
    user = factory.user()
    refresh = login(user.email).json()["refresh_token"]

    reset = client.post(
        f"/api/v1/users/{user.id}/password-reset", headers=factory.auth_headers(admin)
    )

    assert reset.status_code == 200
    one_time = reset.json()["one_time_password"]
    assert verify_secret(one_time, user.password_hash) and user.must_change_password is True
    assert login(user.email, one_time).json()["must_change_password"] is True
    assert login(user.email, DEFAULT_PASSWORD).status_code == 401
    old_session = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert_problem(old_session, 401, "invalid-refresh-token")


def test_only_user_admins_change_users(client, factory):
    manager = factory.user(roles=("manager",))
    target = factory.user()
    response = client.patch(
        f"/api/v1/users/{target.id}",
        json={"roles": ["admin"]},
        headers=factory.auth_headers(manager),
    )
    body = assert_problem(response, 403, "forbidden")
    assert body["permission"] == "user:admin"
    assert target.roles == ["agent"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/auth/login", {"email": "a\u0000@example.com", "password": "x"}),
        (
            "POST",
            "/api/v1/users",
            {"email": "n@example.com", "roles": ["agent"], "display_name": "\u0000"},
        ),
        ("PATCH", "/api/v1/auth/me", {"display_name": "x\u0000y"}),
        ("POST", "/api/v1/teams", {"name": "Desk", "description": "d\u0000"}),
        ("GET", "/api/v1/users?q=%00", None),
        ("GET", "/api/v1/teams?q=a%00", None),
    ],
)
def test_nul_characters_are_bad_input_not_a_server_error(client, factory, method, path, body):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    response = client.request(method, path, json=body, headers=admin)
    assert_problem(response, 422, "validation-error")


def test_user_search_treats_wildcards_literally(client, factory, headers_for):
    factory.user(email="john_doe@search.example", display_name="John Underscore")
    factory.user(email="john.doe@search.example", display_name="John Dot")
    found = client.get("/api/v1/users?q=john_doe", headers=headers_for("admin")).json()
    assert [user["email"] for user in found["items"]] == ["john_doe@search.example"]
