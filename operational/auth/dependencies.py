"""The authorization chain: bearer token → ``CurrentUser`` → ``require(permission)``.

Every route declares its access with exactly one of:
- ``dependencies=[require("incident:read")]``, or a parameter
  ``user: Annotated[User, require(...)]``
- ``dependencies=[public]`` (from ``operational.core.access``) for the few routes anyone may call
  (login, health, CSAT answer).
The RBAC matrix test finds these markers on every route and fails on a route without one.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from operational.auth import cache as auth_cache
from operational.auth import chain
from operational.auth.models import Team, User
from operational.auth.permissions import PERMISSIONS
from operational.core.db import DbSession
from operational.core.errors import NotFound

bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def _claims(credentials: HTTPAuthorizationCredentials | None) -> dict[str, Any]:
    return chain.claims_of(None if credentials is None else credentials.credentials)


def _signed_in(request: Request, claims: dict[str, Any], user: User | None) -> User:
    chain.check_signed_in(claims, user)
    request.state.token_scope = claims.get("scope")
    request.state.user = user
    return user


def _user_of_token(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> User:
    claims = _claims(credentials)
    user = auth_cache.load(session=session, user_id=int(claims["sub"]))
    return _signed_in(request, claims, user)


async def _current_user(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    # A coroutine: checking the token and a user from the auth cache need no I/O, so most
    # requests cost no trip to the thread pool here; a lookup in the database goes there.
    claims = _claims(credentials)
    user_id = int(claims["sub"])
    user = auth_cache.snapshot(session=session, user_id=user_id)
    if user is None:
        user = await run_in_threadpool(auth_cache.load, session=session, user_id=user_id)
    return _signed_in(request, claims, user)


# The pure checks below are coroutines: FastAPI runs them in the event loop, where a plain
# function would cost a trip to the thread pool on every request.
def _refuse_enrolment_token(request: Request) -> None:
    chain.check_full_scope(getattr(request.state, "token_scope", None))


async def _fully_authenticated_user(
    request: Request, user: Annotated[User, Depends(_current_user)]
) -> User:
    _refuse_enrolment_token(request)
    return user


CurrentUser = Annotated[User, Depends(_fully_authenticated_user)]


def authenticate(request: Request, session: DbSession, token: str | None) -> User:
    """The bearer chain for a token that came another way (the live stream's ``access_token``
    query parameter, for browsers' EventSource, which cannot send headers)."""
    credentials = (
        HTTPAuthorizationCredentials(scheme="Bearer", credentials=token) if token else None
    )
    user = _user_of_token(request, session, credentials)
    _refuse_enrolment_token(request)
    return user


# For the MFA enrolment routes only: accepts the enrolment-scoped token too.
CurrentUserForEnrolment = Annotated[User, Depends(_current_user)]


def require(permission: str) -> Any:
    """A dependency that yields the current user when they hold ``permission``, else 403."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def check(user: CurrentUser) -> User:
        chain.check_permission(user, permission)
        return user

    check.required_permission = permission  # type: ignore[attr-defined]
    check.__name__ = f"require_{permission.replace(':', '_')}"
    return Depends(check)


async def _authenticated_only(user: CurrentUser) -> User:
    return user


_authenticated_only.authenticated_only = True  # type: ignore[attr-defined]
# For routes every signed-in user may call (e.g. /auth/me): any role passes.
authenticated = Depends(_authenticated_only)


async def _enrolment_only(user: CurrentUserForEnrolment) -> User:
    return user


_enrolment_only.authenticated_only = True  # type: ignore[attr-defined]
# For MFA enrolment: any signed-in user, including one holding only an enrolment token.
enrolling = Depends(_enrolment_only)


# --- request context and lookups (additive: used by the auth, user and team routes) -----------


async def utc_now() -> datetime:
    """The request's clock. One dependency, so tests can set the time instead of waiting."""
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(utc_now)]


async def client_address(request: Request) -> str:
    """The peer address (behind a proxy, run uvicorn with --proxy-headers so it is the client's)."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


# Path ids beyond bigint would reach PostgreSQL as an error; they are simply not found.
DATABASE_ID_MAX = 2**63 - 1
DatabaseId = Annotated[int, Path(ge=1, le=DATABASE_ID_MAX)]


def _target_user(user_id: DatabaseId, session: DbSession) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}")
    return user


def _target_team(team_id: DatabaseId, session: DbSession) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"There is no team {team_id}")
    return team


# The user or team named by the path (``/users/{user_id}``, ``/teams/{team_id}``), else 404.
TargetUser = Annotated[User, Depends(_target_user)]
TargetTeam = Annotated[Team, Depends(_target_team)]
