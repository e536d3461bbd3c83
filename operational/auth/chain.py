"""The rules of the authorization chain, without FastAPI: bearer token → signed-in user →
enrolment scope → permission. ``dependencies.py`` applies them per request as dependencies;
``cached_viewer`` applies all of them at once to a user from this process's auth cache, for a
read that runs outside FastAPI's dependencies (operational/incidents/fastpath.py).

Each check takes anything with the user's attributes (an ORM ``User`` or a cache ``Viewer``) and
raises the problem the request answers with.
"""

from typing import Any

import jwt
from fastapi.security.utils import get_authorization_scheme_param

from operational.auth import cache as auth_cache
from operational.auth.permissions import permissions_for
from operational.auth.security import MFA_ENROLMENT_SCOPE, decode_access_token, issued_before
from operational.core.errors import DomainError, Forbidden, Unauthorized


def claims_of(token: str | None) -> dict[str, Any]:
    """The claims of a valid access token; 401 without one or for a bad or expired one."""
    if token is None:
        raise Unauthorized("A bearer access token is required")
    try:
        return decode_access_token(token)
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired; refresh it") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The access token is not valid") from exc


def check_signed_in(claims: dict[str, Any], user: Any) -> None:
    """401 for an unknown or inactive account, or a token issued before its sessions ended."""
    if user is None or not user.is_active:
        raise Unauthorized("The account is unknown or inactive")
    if issued_before(claims, user.sessions_valid_after):
        raise Unauthorized("This session has ended (sign-out or a password or MFA change)")


def check_full_scope(scope: str | None) -> None:
    """403 for a token issued only to enrol MFA (role requires MFA, not yet enrolled): it opens
    nothing else."""
    if scope == MFA_ENROLMENT_SCOPE:
        raise Forbidden("Enrol MFA first: this token only allows MFA enrolment", mfa_required=True)


def check_permission(user: Any, permission: str) -> None:
    """403 until a one-time password is changed, and without ``permission``."""
    if user.must_change_password:
        # A one-time password opens only /auth/me, /auth/password and the MFA routes.
        raise Forbidden(
            "Change your one-time password first: POST /api/v1/auth/password",
            password_change_required=True,
        )
    if permission not in permissions_for(user.roles):
        raise Forbidden(f"This needs the {permission!r} permission", permission=permission)


def cached_viewer(authorization: str | None, permission: str) -> auth_cache.Viewer | None:
    """The user of an ``Authorization`` header when the whole chain of ``require(permission)``
    lets them through and they are in this process's auth cache; None when a check refuses or
    the user must be looked up in the database: the dependencies then answer, problem included."""
    # As HTTPBearer(auto_error=False) reads the header.
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return None
    try:
        claims = claims_of(token)
        viewer = auth_cache.viewer(int(claims["sub"]))
        if viewer is None:
            return None
        check_signed_in(claims, viewer)
        check_full_scope(claims.get("scope"))
        check_permission(viewer, permission)
    except (DomainError, ValueError):
        return None
    return viewer
