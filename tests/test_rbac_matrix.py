"""The RBAC matrix: every route of the app, called as every role.

Routes are discovered from ``create_app()``, so routes added later are covered without editing
this file. Each route must declare exactly one access marker (see
``operational/auth/dependencies.py``):

- ``require("perm")``: 401 without a token; 403 exactly for the roles lacking ``perm``;
- ``authenticated``: 401 without a token; never 403 for a signed-in role;
- ``enrolling``: the same, and it also accepts an MFA-enrolment-only token;
- ``public``: never 401 or 403.

An MFA-enrolment-only token is refused (403) everywhere except ``enrolling`` and ``public``
routes. Path parameters get dummy values and bodies are ``{}``, so a permitted call usually
answers 404 or 422: what matters is that it is not 403, and that nothing answers 500.
"""

import enum
import typing
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from operational.auth.dependencies import enrolling
from operational.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role
from operational.auth.security import MFA_ENROLMENT_SCOPE, create_access_token
from operational.main import create_app

_APP = create_app()
UI_MOUNT = "/ui"
_DOCS_PATHS = {
    _APP.openapi_url,
    _APP.docs_url,
    _APP.redoc_url,
    _APP.swagger_ui_oauth2_redirect_url,
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class Access:
    kind: str  # "permission", "authenticated", "enrolling" or "public"
    permission: str | None = None

    def __str__(self) -> str:
        return f"require({self.permission!r})" if self.permission else self.kind


@dataclass(frozen=True)
class RouteUnderTest:
    method: str
    path: str
    route: Any  # fastapi.routing.RouteContext

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _dependants(dependant: Dependant):
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def declared_access(route: Any) -> set[Access]:
    """Every access marker found anywhere in the route's dependency tree."""
    found: set[Access] = set()
    for dependant in _dependants(route.dependant):
        call = dependant.call
        if permission := getattr(call, "required_permission", None):
            found.add(Access("permission", permission))
        if getattr(call, "is_public", False):
            found.add(Access("public"))
        if getattr(call, "authenticated_only", False):
            found.add(Access("enrolling" if call is enrolling.dependency else "authenticated"))
    return found


def _dummy_path_value(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return str(next(iter(annotation)).value)
        if issubclass(annotation, bool):
            return "true"
        if issubclass(annotation, int):
            return "987654321"
        if issubclass(annotation, uuid.UUID):
            return str(uuid.UUID(int=0))
        if issubclass(annotation, datetime):
            return "2000-01-01T00:00:00Z"
        if issubclass(annotation, date):
            return "2000-01-01"
    return "987654321"  # str parameters accept it too, and it names nothing


def filled_path(route: Any) -> str:
    types = {
        field.name: field.field_info.annotation
        for dependant in _dependants(route.dependant)
        for field in dependant.path_params
    }
    path = route.path_format
    for name in route.param_convertors:
        path = path.replace("{" + name + "}", _dummy_path_value(types.get(name)))
    return path


def _routes() -> list[RouteUnderTest]:
    routes = []
    for route in iter_route_contexts(_APP.routes):
        # The web UI (docs/ui.md) is mounted at /ui: a client of the routes checked here, which
        # its pages call with the signed-in person's token; tests/ui drives it in a browser.
        if route.path in _DOCS_PATHS or route.path == UI_MOUNT:
            continue
        methods = sorted((route.methods or {"GET"}) - {"HEAD", "OPTIONS"})
        routes.extend(RouteUnderTest(method, route.path, route) for method in methods)
    return routes


ROUTES = _routes()


def test_the_app_has_routes_to_check():
    paths = {route.path for route in ROUTES}
    assert {"/healthz", "/api/v1/auth/login", "/api/v1/users", "/api/v1/teams"} <= paths


def test_every_role_has_permissions_and_every_permission_is_known():
    assert set(ROLE_PERMISSIONS) == set(Role)
    for granted in ROLE_PERMISSIONS.values():
        assert granted <= set(PERMISSIONS)
    assert ROLE_PERMISSIONS[Role.admin] == frozenset(PERMISSIONS)


@pytest.mark.parametrize("under_test", ROUTES, ids=lambda route: route.id)
def test_route_enforces_its_declared_access(under_test: RouteUnderTest, client, factory):
    route = under_test.route
    assert isinstance(route.original_route, APIRoute), (
        f"{under_test.id} is not a FastAPI route, so it cannot declare its access"
    )
    declared = declared_access(route)
    assert len(declared) == 1, (
        f"{under_test.id} must declare exactly one of require('perm'), public, authenticated or "
        f"enrolling; it declares {sorted(map(str, declared)) or 'nothing'}"
    )
    (access,) = declared
    url = filled_path(route)
    body = {} if under_test.method in _BODY_METHODS else None

    def call(headers: dict[str, str] | None = None):
        response = client.request(under_test.method, url, json=body, headers=headers or {})
        assert response.status_code != 500, f"{under_test.id} answered 500: {response.text}"
        return response

    anonymous = call()
    if access.kind == "public":
        assert anonymous.status_code not in (401, 403), anonymous.text
    else:
        assert anonymous.status_code == 401, f"{under_test.id} without a token: {anonymous.text}"
        assert anonymous.headers["content-type"] == "application/problem+json"

    for role in Role:
        user = factory.user(roles=(role.value,))
        response = call(factory.auth_headers(user))
        if access.kind == "permission" and access.permission not in ROLE_PERMISSIONS[role]:
            assert response.status_code == 403, (
                f"{role} lacks {access.permission} but {under_test.id} answered "
                f"{response.status_code}: {response.text}"
            )
            assert response.json()["permission"] == access.permission
        else:
            assert response.status_code not in (401, 403), (
                f"{role} may call {under_test.id} ({access}) but got {response.status_code}: "
                f"{response.text}"
            )

    admin = factory.user(roles=(Role.admin.value,))
    enrolment_only = create_access_token(user_id=admin.id, extra={"scope": MFA_ENROLMENT_SCOPE})
    response = call({"Authorization": f"Bearer {enrolment_only}"})
    if access.kind in ("enrolling", "public"):
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, (
            f"an MFA-enrolment-only token opened {under_test.id}: {response.status_code}"
        )
        assert response.json()["mfa_required"] is True
