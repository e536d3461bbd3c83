from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from operational.auth.models import Team, TeamMember, User
from operational.auth.permissions import Role
from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody

# Deliberately loose: internal domains (admin@itsm.local) are fine; delivery is not our check.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Timezone = Annotated[str, Field(max_length=64, description="IANA time zone, e.g. Europe/Amsterdam")]
# argon2 accepts any length; a bound keeps a login request from costing more than it should.
Password = Annotated[str, Field(max_length=1024)]
AssignmentStrategy = Literal["round_robin", "least_loaded"]


# PostgreSQL text cannot hold NUL characters: refuse them as bad input, not a database error.
NO_NUL_PATTERN = r"^[^\x00]*$"


# --- sessions -----------------------------------------------------------------------------------


class LoginRequest(RequestBody):
    email: Annotated[str, Field(max_length=320)]
    password: Password
    totp_code: Annotated[
        str | None, Field(max_length=16, description="Current code from the authenticator app")
    ] = None
    recovery_code: Annotated[
        str | None, Field(max_length=32, description="One of the ten single-use recovery codes")
    ] = None


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str | None = Field(
        description="Opaque, single-use; null for an MFA-enrolment-only login"
    )
    refresh_token_expires_at: datetime | None
    scope: str | None = Field(
        description="null for a full session; 'mfa_enrolment' when the token only allows enrolling"
    )
    must_change_password: bool


class RefreshRequest(RequestBody):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class LogoutRequest(RequestBody):
    refresh_token: Annotated[
        str | None, Field(max_length=200, description="Revoke this token's login (its family)")
    ] = None
    everywhere: bool = Field(
        default=False, description="Revoke every refresh token of the signed-in user"
    )

    @model_validator(mode="after")
    def _something_to_revoke(self) -> "LogoutRequest":
        if not self.refresh_token and not self.everywhere:
            raise ValueError("give refresh_token, or everywhere=true")
        return self


class PasswordChange(RequestBody):
    current_password: Password
    new_password: Password


class MfaEnrolmentRead(BaseModel):
    secret: str = Field(description="Base32 secret, for typing into an app by hand")
    otpauth_uri: str
    qr_code: str = Field(description="PNG image of otpauth_uri as a data: URI")
    period_seconds: int = 30
    valid_window: int = Field(description="Time-steps accepted either side of the current one")


MfaCode = Annotated[str, Field(min_length=1, max_length=16)]
CurrentPassword = Annotated[
    Password, Field(description="The account's current password, asked again for MFA changes")
]


class MfaEnrolRequest(RequestBody):
    password: CurrentPassword


class MfaVerifyRequest(RequestBody):
    code: MfaCode
    password: CurrentPassword


class MfaCodeRequest(RequestBody):
    code: MfaCode


class RecoveryCodesRead(BaseModel):
    recovery_codes: list[str] = Field(description="Single-use; shown only this once")


# --- users --------------------------------------------------------------------------------------


class TeamMembershipRead(BaseModel):
    team_id: int
    team_name: str
    is_available: bool

    @classmethod
    def of(cls, membership: TeamMember) -> "TeamMembershipRead":
        return cls(
            team_id=membership.team_id,
            team_name=membership.team.name,
            is_available=membership.is_available,
        )


class UserRead(BaseModel):
    id: int
    email: str | None
    display_name: str
    is_active: bool
    timezone: str
    roles: list[Role]
    teams: list[TeamMembershipRead]
    mfa_enabled: bool
    must_change_password: bool
    last_login_at: datetime | None
    locked_until: datetime | None
    source_system: str
    created_at: datetime

    @classmethod
    def of(cls, user: User, **extra) -> "UserRead":
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            is_active=user.is_active,
            timezone=user.timezone,
            roles=[Role(role) for role in user.roles],
            teams=sorted(
                (TeamMembershipRead.of(membership) for membership in user.memberships),
                key=lambda membership: membership.team_name,
            ),
            mfa_enabled=user.mfa_enabled,
            must_change_password=user.must_change_password,
            last_login_at=user.last_login_at,
            locked_until=user.locked_until,
            source_system=user.source_system,
            created_at=user.created_at,
            **extra,
        )


UserPage = Page[UserRead]


class MeRead(UserRead):
    permissions: list[str]


class MeUpdate(RequestBody):
    """Fields a user may change on their own account; omitted fields stay as they are."""

    display_name: DisplayName | None = None
    timezone: Timezone | None = None


class UserCreate(RequestBody):
    email: Email
    display_name: DisplayName | None = None
    password: Password | None = Field(
        default=None, description="Omit to have a one-time password generated and returned"
    )
    roles: Annotated[list[Role], Field(min_length=1)]
    teams: list[int] = Field(default_factory=list, description="Team ids")
    timezone: Timezone = "UTC"


class UserCreated(UserRead):
    one_time_password: str | None = Field(
        description="Set when no password was given: show it once; it must be changed at login"
    )


class UserUpdate(RequestBody):
    """Omitted (or null) fields stay as they are. ``roles`` replaces the whole set."""

    display_name: DisplayName | None = None
    timezone: Timezone | None = None
    is_active: bool | None = None
    roles: Annotated[list[Role], Field(min_length=1)] | None = None


class OneTimePasswordRead(BaseModel):
    one_time_password: str


# --- teams --------------------------------------------------------------------------------------


class TeamMemberRead(BaseModel):
    user_id: int
    display_name: str
    email: str | None
    is_available: bool
    last_assigned_at: datetime | None

    @classmethod
    def of(cls, membership: TeamMember) -> "TeamMemberRead":
        return cls(
            user_id=membership.user_id,
            display_name=membership.user.display_name,
            email=membership.user.email,
            is_available=membership.is_available,
            last_assigned_at=membership.last_assigned_at,
        )


class TeamRead(BaseModel):
    id: int
    name: str
    description: str | None
    email: str | None
    assignment_strategy: AssignmentStrategy
    is_active: bool
    created_at: datetime
    members: list[TeamMemberRead]

    @classmethod
    def of(cls, team: Team) -> "TeamRead":
        return cls(
            id=team.id,
            name=team.name,
            description=team.description,
            email=team.email,
            assignment_strategy=team.assignment_strategy,  # type: ignore[arg-type]
            is_active=team.is_active,
            created_at=team.created_at,
            members=sorted(
                (TeamMemberRead.of(membership) for membership in team.members),
                key=lambda member: (member.display_name, member.user_id),
            ),
        )


TeamPage = Page[TeamRead]


class TeamCreate(RequestBody):
    name: DisplayName
    description: str | None = None
    email: Email | None = None
    assignment_strategy: AssignmentStrategy = "round_robin"


class TeamUpdate(RequestBody):
    """Omitted fields stay as they are; ``description`` and ``email`` may be set to null."""

    name: DisplayName | None = None
    description: str | None = None
    email: Email | None = None
    assignment_strategy: AssignmentStrategy | None = None
    is_active: bool | None = None


class TeamMemberWrite(RequestBody):
    is_available: bool = Field(
        default=True, description="False keeps the member out of automatic assignment"
    )


class CostCenterCreate(RequestBody):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    owner_id: int | None = None


class CostCenterRead(ReadModel):
    id: int
    code: str
    name: str
    owner_id: int | None


CostCenterPage = Page[CostCenterRead]


class ReportingLineWrite(RequestBody):
    """Who a person reports to and which cost centre they are charged to (null clears)."""

    manager_id: int | None = None
    cost_center_id: int | None = None


class ReportingLineRead(BaseModel):
    user_id: int
    manager_id: int | None
    cost_center_id: int | None
    cost_center_owner_id: int | None
