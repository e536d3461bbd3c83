"""Sign-in (``/auth``), user accounts (``/users``) and teams (``/teams``)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from operational.auth import mfa, reporting, service

# Access is declared by the route's marker (require/public/authenticated/enrolling), which the RBAC
# matrix reads and FastAPI solves first; CurrentUser then only hands over the signed-in user.
from operational.auth.dependencies import (
    DATABASE_ID_MAX,
    ClientAddress,
    CurrentUser,
    CurrentUserForEnrolment,
    Now,
    TargetTeam,
    TargetUser,
    authenticated,
    enrolling,
    require,
)
from operational.auth.exceptions import InvalidMfaCode
from operational.auth.models import User
from operational.auth.permissions import Role, permissions_for
from operational.auth.schemas import (
    NO_NUL_PATTERN,
    CostCenterCreate,
    CostCenterPage,
    CostCenterRead,
    LoginRequest,
    LogoutRequest,
    MeRead,
    MeUpdate,
    MfaCodeRequest,
    MfaEnrolmentRead,
    MfaEnrolRequest,
    MfaVerifyRequest,
    OneTimePasswordRead,
    PasswordChange,
    RecoveryCodesRead,
    RefreshRequest,
    ReportingLineRead,
    ReportingLineWrite,
    TeamCreate,
    TeamMemberWrite,
    TeamPage,
    TeamRead,
    TeamUpdate,
    TokenRead,
    UserCreate,
    UserCreated,
    UserPage,
    UserRead,
    UserUpdate,
)
from operational.core.access import public
from operational.core.db import DbSession
from operational.core.errors import DomainError, NotFound
from operational.core.pagination import PageQuery

auth_router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
teams_router = APIRouter(prefix="/teams", tags=["teams"])
cost_centers_router = APIRouter(prefix="/cost-centers", tags=["users"])


@contextmanager
def keep_writes_when_refused(session: Session) -> Iterator[None]:
    """Login and refresh record the attempt (or revoke a token family) before refusing:
    commit those writes, since the request's session rolls back on any error."""
    try:
        yield
    except DomainError:
        session.commit()
        raise


def _token_read(signed_in: service.SignIn) -> TokenRead:
    return TokenRead(
        access_token=signed_in.access_token,
        expires_in=signed_in.expires_in,
        refresh_token=signed_in.refresh.token if signed_in.refresh else None,
        refresh_token_expires_at=signed_in.refresh.expires_at if signed_in.refresh else None,
        scope=signed_in.scope,
        must_change_password=signed_in.user.must_change_password,
    )


def _me(user: User) -> MeRead:
    return MeRead.of(user, permissions=sorted(permissions_for(user.roles)))


# --- /auth --------------------------------------------------------------------------------------


@auth_router.post(
    "/login",
    dependencies=[public],
    summary="Sign in: access token and refresh token",
    responses={401: {}, 423: {}, 429: {}},
)
def login(body: LoginRequest, session: DbSession, client: ClientAddress, now: Now) -> TokenRead:
    """Email and password, plus ``totp_code`` (or a ``recovery_code``) once MFA is on.

    A 401 with ``mfa_required: true`` asks for the code. When the user's role requires MFA and
    none is enrolled, the token has ``scope: "mfa_enrolment"`` and opens only the MFA routes.
    """
    with keep_writes_when_refused(session):
        signed_in = service.login(
            session=session,
            email=body.email,
            password=body.password,
            totp_code=body.totp_code,
            recovery_code=body.recovery_code,
            client=client,
            now=now,
        )
    return _token_read(signed_in)


@auth_router.post(
    "/refresh", dependencies=[public], summary="Rotate the refresh token", responses={401: {}}
)
def refresh(body: RefreshRequest, session: DbSession, client: ClientAddress, now: Now) -> TokenRead:
    """Spends the refresh token and returns a new pair. A token used twice revokes its login."""
    with keep_writes_when_refused(session):
        signed_in = service.refresh(
            session=session, refresh_token=body.refresh_token, client=client, now=now
        )
    return _token_read(signed_in)


@auth_router.post(
    "/logout",
    dependencies=[authenticated],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a login, or all of them",
)
def logout(body: LogoutRequest, user: CurrentUser, session: DbSession, now: Now) -> None:
    """Revokes the refresh token's family; ``everywhere: true`` revokes every refresh token.
    Either way every access token the user holds stops working at once, this one included; the
    user's other logins get a new one with their next refresh."""
    service.logout(
        session=session,
        user=user,
        refresh_token=body.refresh_token,
        everywhere=body.everywhere,
        now=now,
    )


@auth_router.get("/me", dependencies=[authenticated], summary="The signed-in user")
def me(user: CurrentUser) -> MeRead:
    return _me(user)


@auth_router.patch("/me", dependencies=[authenticated], summary="Change own name or time zone")
def update_me(body: MeUpdate, user: CurrentUser, session: DbSession, now: Now) -> MeRead:
    updated = service.update_own_profile(
        session=session,
        user=user,
        display_name=body.display_name,
        timezone=body.timezone,
        now=now,
    )
    return _me(updated)


@auth_router.post(
    "/password",
    dependencies=[authenticated],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change own password",
)
def change_password(body: PasswordChange, user: CurrentUser, session: DbSession, now: Now) -> None:
    """Needs the current password; clears ``must_change_password``. Ends every session of the
    user, this one included: sign in again with the new password."""
    service.change_password(
        session=session,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        now=now,
    )


@auth_router.post("/mfa/enroll", dependencies=[enrolling], summary="Start MFA enrolment")
def enroll_mfa(
    body: MfaEnrolRequest, user: CurrentUserForEnrolment, session: DbSession
) -> MfaEnrolmentRead:
    """Needs the current password. A new TOTP secret, its otpauth:// URI and a QR code to scan
    with an authenticator app. MFA is not active until ``/auth/mfa/verify`` accepts a code."""
    enrolment = mfa.begin_enrolment(session=session, user=user, password=body.password)
    return MfaEnrolmentRead(
        secret=enrolment.secret,
        otpauth_uri=enrolment.otpauth_uri,
        qr_code=enrolment.qr_code,
        valid_window=mfa.VALID_WINDOW,
    )


@auth_router.post("/mfa/verify", dependencies=[enrolling], summary="Activate MFA")
def verify_mfa(
    body: MfaVerifyRequest, user: CurrentUserForEnrolment, session: DbSession, now: Now
) -> RecoveryCodesRead:
    """Needs a valid code and the current password. Activates MFA and returns ten single-use
    recovery codes (shown once). After enrolling with an enrolment-only token, sign in again
    with a code."""
    codes = mfa.activate(session=session, user=user, code=body.code, password=body.password, at=now)
    return RecoveryCodesRead(recovery_codes=codes)


@auth_router.post(
    "/mfa/recovery-codes", dependencies=[authenticated], summary="Replace the recovery codes"
)
def new_recovery_codes(
    body: MfaCodeRequest, user: CurrentUser, session: DbSession, now: Now
) -> RecoveryCodesRead:
    """Needs a current TOTP code; the old recovery codes stop working."""
    mfa.lock(session, user)
    if not user.mfa_enabled or not mfa.consume_totp(user=user, code=body.code, at=now):
        raise InvalidMfaCode("MFA is not active, or the code is wrong, expired or already used")
    return RecoveryCodesRead(recovery_codes=mfa.replace_recovery_codes(session=session, user=user))


# --- /users -------------------------------------------------------------------------------------


@users_router.get("", summary="List users", dependencies=[require("user:read")])
def list_users(
    session: DbSession,
    page: PageQuery,
    role: Annotated[Role | None, Query(description="Users holding this role")] = None,
    team: Annotated[
        int | None, Query(ge=1, le=DATABASE_ID_MAX, description="Members of this team id")
    ] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) users")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NO_NUL_PATTERN, description="Part of email or name"),
    ] = None,
) -> UserPage:
    """Sortable by id, email, display_name, created_at, last_login_at."""
    found = service.list_users(
        session=session, params=page, role=role, team_id=team, active=active, q=q
    )
    return found.map(UserRead.of)


@users_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a user",
    dependencies=[require("user:admin")],
)
def create_user(body: UserCreate, session: DbSession, actor: CurrentUser) -> UserCreated:
    """Without ``password``, a one-time password is generated, returned once, and must be
    changed at first login."""
    user, one_time = service.create_user_by_admin(session=session, data=body, actor=actor)
    return UserCreated.of(user, one_time_password=one_time)


@users_router.get("/{user_id}", summary="One user", dependencies=[require("user:read")])
def get_user(target: TargetUser) -> UserRead:
    return UserRead.of(target)


@users_router.patch(
    "/{user_id}",
    summary="Change name, time zone, active flag or roles",
    dependencies=[require("user:admin")],
)
def update_user(
    body: UserUpdate,
    target: TargetUser,
    session: DbSession,
    now: Now,
    actor: CurrentUser,
) -> UserRead:
    """Deactivating a user ends their sessions (refresh and access tokens). The last active admin
    cannot lose admin."""
    updated = service.update_user(session=session, user=target, data=body, actor=actor, now=now)
    return UserRead.of(updated)


@users_router.post(
    "/{user_id}/password-reset",
    summary="Give a user a one-time password",
    dependencies=[require("user:admin")],
)
def reset_password(
    target: TargetUser, session: DbSession, now: Now, actor: CurrentUser
) -> OneTimePasswordRead:
    """The user must change it at next login; their sessions end (refresh and access tokens)."""
    password = service.reset_password(session=session, user=target, actor=actor, now=now)
    return OneTimePasswordRead(one_time_password=password)


@users_router.post(
    "/{user_id}/mfa-reset",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn off a user's MFA (lost authenticator)",
    dependencies=[require("user:admin")],
)
def reset_mfa(target: TargetUser, session: DbSession, now: Now, actor: CurrentUser) -> None:
    """Forgets the secret and recovery codes and ends the user's sessions; the user enrols again."""
    service.reset_mfa(session=session, user=target, actor=actor, now=now)


@users_router.post(
    "/{user_id}/unlock",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Lift a login lock",
    dependencies=[require("user:admin")],
)
def unlock_user(target: TargetUser, session: DbSession, now: Now, actor: CurrentUser) -> None:
    service.unlock(session=session, user=target, actor=actor, now=now)


# --- /teams -------------------------------------------------------------------------------------


@teams_router.get("", summary="List teams", dependencies=[require("team:read")])
def list_teams(
    session: DbSession,
    page: PageQuery,
    active: Annotated[bool | None, Query(description="Only active (or inactive) teams")] = None,
    q: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL_PATTERN, description="Part of the name")
    ] = None,
) -> TeamPage:
    """Sortable by id, name, created_at."""
    found = service.list_teams(session=session, params=page, active=active, q=q)
    return found.map(TeamRead.of)


@teams_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a team",
    dependencies=[require("team:admin")],
)
def create_team(body: TeamCreate, session: DbSession, actor: CurrentUser) -> TeamRead:
    return TeamRead.of(service.create_team(session=session, data=body, actor=actor))


@teams_router.get(
    "/{team_id}", summary="One team and its members", dependencies=[require("team:read")]
)
def get_team(team: TargetTeam) -> TeamRead:
    return TeamRead.of(team)


@teams_router.patch("/{team_id}", summary="Change a team", dependencies=[require("team:admin")])
def update_team(
    body: TeamUpdate,
    team: TargetTeam,
    session: DbSession,
    actor: CurrentUser,
) -> TeamRead:
    return TeamRead.of(service.update_team(session=session, team=team, data=body, actor=actor))


@teams_router.delete(
    "/{team_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Deactivate a team",
    dependencies=[require("team:admin")],
)
def deactivate_team(team: TargetTeam, session: DbSession, actor: CurrentUser) -> None:
    """Teams are deactivated, never removed: tickets and their history refer to them."""
    service.deactivate_team(session=session, team=team, actor=actor)


@teams_router.put(
    "/{team_id}/members/me",
    dependencies=[authenticated],
    summary="Set own availability in a team",
)
def set_own_availability(
    body: TeamMemberWrite, team: TargetTeam, user: CurrentUser, session: DbSession
) -> TeamRead:
    """Members mark themselves unavailable (away, off shift) to stop auto-assignment."""
    if service.get_membership(session=session, team=team, user=user) is None:
        raise NotFound(f"You are not a member of team {team.id}")
    service.set_membership(
        session=session, team=team, user=user, is_available=body.is_available, actor=user
    )
    return TeamRead.of(team)


@teams_router.put(
    "/{team_id}/members/{user_id}",
    summary="Add a member or set availability",
    dependencies=[require("team:admin")],
)
def set_member(
    body: TeamMemberWrite,
    team: TargetTeam,
    target: TargetUser,
    session: DbSession,
    actor: CurrentUser,
) -> TeamRead:
    service.set_membership(
        session=session, team=team, user=target, is_available=body.is_available, actor=actor
    )
    return TeamRead.of(team)


@teams_router.delete(
    "/{team_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member",
    dependencies=[require("team:admin")],
)
def remove_member(
    team: TargetTeam,
    target: TargetUser,
    session: DbSession,
    actor: CurrentUser,
) -> None:
    membership = service.get_membership(session=session, team=team, user=target)
    if membership is None:
        raise NotFound(f"User {target.id} is not a member of team {team.id}")
    service.remove_membership(session=session, team=team, membership=membership, actor=actor)


# --- the reporting line (request approvals follow it) ---------------------------------------


def _reporting_line_read(session: Session, user: User) -> ReportingLineRead:
    owner = reporting.cost_center_owner_of(session=session, user=user)
    return ReportingLineRead(
        user_id=user.id,
        manager_id=user.manager_id,
        cost_center_id=user.cost_center_id,
        cost_center_owner_id=owner.id if owner else None,
    )


@users_router.get(
    "/{user_id}/reporting-line",
    summary="A person's manager and cost centre",
    dependencies=[require("user:read")],
)
def get_reporting_line(target: TargetUser, session: DbSession) -> ReportingLineRead:
    return _reporting_line_read(session, target)


@users_router.put(
    "/{user_id}/reporting-line",
    summary="Set a person's manager and cost centre",
    dependencies=[require("user:admin")],
)
def set_reporting_line(
    body: ReportingLineWrite, target: TargetUser, session: DbSession, actor: CurrentUser
) -> ReportingLineRead:
    reporting.set_reporting_line(session=session, user=target, data=body, actor=actor)
    return _reporting_line_read(session, target)


@cost_centers_router.get(
    "", summary="Cost centres and their owners", dependencies=[require("user:read")]
)
def list_cost_centers(
    session: DbSession, page: PageQuery, q: Annotated[str | None, Query(max_length=200)] = None
) -> CostCenterPage:
    found = reporting.list_cost_centers(session=session, params=page, q=q)
    return found.map(CostCenterRead.model_validate)


@cost_centers_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a cost centre",
    dependencies=[require("user:admin")],
)
def create_cost_center(
    body: CostCenterCreate, session: DbSession, actor: CurrentUser
) -> CostCenterRead:
    return CostCenterRead.model_validate(
        reporting.create_cost_center(session=session, data=body, actor=actor)
    )


router = APIRouter()
router.include_router(auth_router)
router.include_router(users_router)
router.include_router(teams_router)
router.include_router(cost_centers_router)
