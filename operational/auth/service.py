"""Users, roles, teams and sign-in. Plain functions: they flush, never commit, and know nothing
of HTTP. Functions that refuse a login after recording the attempt say so: their caller must
commit before passing the error on, or the record (and a lock) would be rolled back."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from operational.auth import cache, mfa, throttling, tokens  # noqa: F401 (cache: flush hooks)
from operational.auth.exceptions import (
    AccountLocked,
    ClientThrottled,
    EmailTaken,
    InvalidCredentials,
    InvalidRefreshToken,
    LastAdmin,
    MfaCodeRequired,
    TeamNameTaken,
    UnknownTeam,
    UnknownTimezone,
    WeakPassword,
    WrongPassword,
)
from operational.auth.models import Team, TeamMember, User, UserRole
from operational.auth.permissions import ROLE_PERMISSIONS, Role
from operational.auth.schemas import TeamCreate, TeamUpdate, UserCreate, UserUpdate
from operational.auth.security import (
    MFA_ENROLMENT_SCOPE,
    create_access_token,
    generate_password,
    hash_secret,
    password_problems,
    session_clock,
    verify_secret,
)
from operational.auth.throttling import Outcome
from operational.core.config import Settings, get_settings
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind

USER_SORTABLE = {
    "id": User.id,
    "email": User.email,
    "display_name": User.display_name,
    "created_at": User.created_at,
    "last_login_at": User.last_login_at,
}
TEAM_SORTABLE = {"id": Team.id, "name": Team.name, "created_at": Team.created_at}


# --- lookups ------------------------------------------------------------------------------------


def get_user(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_team(*, session: Session, team_id: int) -> Team | None:
    return session.get(Team, team_id)


def get_by_email(*, session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def get_team_by_name(*, session: Session, name: str) -> Team | None:
    return session.scalar(select(Team).where(Team.name == name))


def ensure_team(*, session: Session, name: str) -> Team:
    team = get_team_by_name(session=session, name=name)
    if team is None:
        team = Team(name=name)
        session.add(team)
        session.flush()
    return team


def is_member(*, session: Session, team_id: int, user_id: int) -> bool:
    return session.get(TeamMember, (team_id, user_id)) is not None


def available_members(*, session: Session, team_id: int) -> list[TeamMember]:
    """Members marked available to receive work, locked so that concurrent picks (round robin,
    least loaded) do not collide; in user order."""
    return list(
        session.scalars(
            select(TeamMember)
            .where(TeamMember.team_id == team_id, TeamMember.is_available)
            .order_by(TeamMember.user_id)
            .with_for_update()
        ).all()
    )


def note_assignment(*, session: Session, team_id: int, user_id: int, now: datetime) -> None:
    """Move the member to the back of the team's rotation."""
    member = session.get(TeamMember, (team_id, user_id))
    if member is not None:
        member.last_assigned_at = now


def _lock(session: Session, model: type[User] | type[Team], record_id: int) -> None:
    """Row lock before appending events, so concurrent writers do not race for a seq."""
    session.execute(select(model.id).where(model.id == record_id).with_for_update())


def end_sessions(*, session: Session, user: User, now: datetime) -> None:
    """Sign the user out everywhere: every refresh token revoked, every access token refused."""
    tokens.revoke_all_for_user(session=session, user_id=user.id, now=now)
    user.sessions_valid_after = session_clock()
    session.flush()


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(
            f"{name!r} is not an IANA time zone such as Europe/Amsterdam"
        ) from None
    return name


def _refuse_weak(password: str, *, also: Iterable[str] = ()) -> None:
    problems = [*password_problems(password), *also]
    if problems:
        raise WeakPassword("The password " + " and ".join(problems), problems=problems)


# --- users --------------------------------------------------------------------------------------


def create_user(
    *,
    session: Session,
    email: str,
    password: str,
    roles: Iterable[Role | str],
    display_name: str | None = None,
    timezone: str = "UTC",
    teams: Iterable[str] = (),
    actor: User | None = None,
    must_change_password: bool = False,
) -> User:
    """Create an account; raises WeakPassword, EmailTaken or UnknownTimezone."""
    email = email.strip().lower()
    _refuse_weak(password)
    validate_timezone(timezone)
    if get_by_email(session=session, email=email) is not None:
        raise EmailTaken(f"{email} already has an account")
    role_values = sorted({Role(role).value for role in roles})
    team_names = list(teams)
    user = User(
        email=email,
        display_name=display_name or email.split("@")[0],
        password_hash=hash_secret(password),
        timezone=timezone,
        must_change_password=must_change_password,
        role_rows=[UserRole(role=role) for role in role_values],
    )
    session.add(user)
    session.flush()
    for team_name in team_names:
        team = ensure_team(session=session, name=team_name)
        session.add(TeamMember(team_id=team.id, user_id=user.id))
    session.flush()
    session.refresh(user)
    events.append(
        session=session,
        entity_type=EntityType.user,
        entity_id=user.id,
        kind=EventKind.user_created,
        actor=actor,
        new_value=email,
        data={"roles": role_values, "teams": team_names},
    )
    return user


def create_user_by_admin(
    *, session: Session, data: UserCreate, actor: User | None
) -> tuple[User, str | None]:
    """Create an account from the admin API; returns it and the one-time password, if generated."""
    team_names = []
    for team_id in dict.fromkeys(data.teams):
        team = session.get(Team, team_id)
        if team is None:
            raise UnknownTeam(f"There is no team {team_id}", team_id=team_id)
        team_names.append(team.name)
    one_time = generate_password() if data.password is None else None
    user = create_user(
        session=session,
        email=data.email,
        password=data.password if data.password is not None else one_time,
        roles=data.roles,
        display_name=data.display_name,
        timezone=data.timezone,
        teams=team_names,
        actor=actor,
        must_change_password=one_time is not None,
    )
    return user, one_time


def _users_matching(
    *,
    role: Role | None = None,
    team_id: int | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Select[Any]:
    statement = select(User)
    if role is not None:
        statement = statement.where(
            User.id.in_(select(UserRole.user_id).where(UserRole.role == role.value))
        )
    if team_id is not None:
        statement = statement.where(
            User.id.in_(select(TeamMember.user_id).where(TeamMember.team_id == team_id))
        )
    if active is not None:
        statement = statement.where(User.is_active.is_(active))
    if q:
        # autoescape: a search for "john_doe" must not match "john.doe".
        term = q.strip()
        statement = statement.where(
            or_(
                User.email.icontains(term, autoescape=True),
                User.display_name.icontains(term, autoescape=True),
            )
        )
    return statement


def list_users(
    *,
    session: Session,
    params: PageParams,
    role: Role | None = None,
    team_id: int | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Page[Any]:
    statement = _users_matching(role=role, team_id=team_id, active=active, q=q)
    return paginate(session, statement, params, sortable=USER_SORTABLE, default_sort=[User.id])


def all_users(
    *,
    session: Session,
    role: Role | None = None,
    team_id: int | None = None,
    active: bool | None = None,
) -> list[User]:
    """Every matching user, by email (accounts without one last): for the CLI's listing."""
    statement = _users_matching(role=role, team_id=team_id, active=active)
    return list(session.scalars(statement.order_by(User.email.nulls_last(), User.id)))


def any_user_with_role(*, session: Session, role: Role) -> bool:
    return (
        session.scalar(select(UserRole.user_id).where(UserRole.role == role).limit(1)) is not None
    )


def roles_with_permission(*, permission: str) -> list[str]:
    """The roles that grant ``permission``, sorted."""
    return sorted(role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted)


def active_user_ids_with_permission(
    *, session: Session, permission: str, exclude_ids: Iterable[int] = ()
) -> set[int]:
    """Active users holding a role that grants ``permission``, but for ``exclude_ids``."""
    statement = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.is_active, UserRole.role.in_(roles_with_permission(permission=permission)))
    )
    excluded = list(exclude_ids)
    if excluded:
        statement = statement.where(User.id.not_in(excluded))
    return set(session.scalars(statement).all())


def _other_active_admins(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(UserRole)
            .join(User, User.id == UserRole.user_id)
            .where(UserRole.role == Role.admin.value, User.is_active, User.id != user.id)
        )
        or 0
    )


def update_user(
    *, session: Session, user: User, data: UserUpdate, actor: User | None, now: datetime
) -> User:
    """Apply an admin's changes, one event per change. Refuses to leave no active admin."""
    _lock(session, User, user.id)
    changes = {name: value for name, value in data if name in data.model_fields_set}
    changes = {name: value for name, value in changes.items() if value is not None}

    new_roles = sorted({role.value for role in changes.get("roles", [])}) or None
    loses_admin = Role.admin.value in user.roles and (
        changes.get("is_active") is False
        or (new_roles is not None and Role.admin.value not in new_roles)
    )
    if loses_admin and user.is_active and _other_active_admins(session, user) == 0:
        raise LastAdmin("This is the last active admin; make someone else admin first")

    def record(kind: EventKind, field: str, old: Any, new: Any) -> None:
        events.append(
            session=session,
            entity_type=EntityType.user,
            entity_id=user.id,
            kind=kind,
            actor=actor,
            field=field,
            old_value=old,
            new_value=new,
            occurred_at=now,
        )

    for field in ("display_name", "timezone"):
        if field in changes and changes[field] != getattr(user, field):
            if field == "timezone":
                validate_timezone(changes[field])
            record(EventKind.field_changed, field, getattr(user, field), changes[field])
            setattr(user, field, changes[field])

    if new_roles is not None and new_roles != user.roles:
        old_roles = user.roles
        for row in list(user.role_rows):
            if row.role not in new_roles:
                user.role_rows.remove(row)
        user.role_rows.extend(UserRole(role=role) for role in new_roles if role not in old_roles)
        record(EventKind.user_roles_changed, "roles", ",".join(old_roles), ",".join(new_roles))

    if "is_active" in changes and changes["is_active"] != user.is_active:
        user.is_active = changes["is_active"]
        if user.is_active:
            record(EventKind.field_changed, "is_active", False, True)
        else:
            record(EventKind.user_deactivated, "is_active", True, False)
            end_sessions(session=session, user=user, now=now)
    session.flush()
    session.refresh(user)
    return user


def update_own_profile(
    *, session: Session, user: User, display_name: str | None, timezone: str | None, now: datetime
) -> User:
    return update_user(
        session=session,
        user=user,
        data=UserUpdate(display_name=display_name, timezone=timezone),
        actor=user,
        now=now,
    )


def reset_password(*, session: Session, user: User, actor: User | None, now: datetime) -> str:
    """Give the account a one-time password (to be changed at next login); ends its sessions."""
    _lock(session, User, user.id)
    password = generate_password()
    user.password_hash = hash_secret(password)
    user.must_change_password = True
    end_sessions(session=session, user=user, now=now)
    events.append(
        session=session,
        entity_type=EntityType.user,
        entity_id=user.id,
        kind=EventKind.field_changed,
        actor=actor,
        field="password",
        data={"reason": "reset_by_admin"},
        occurred_at=now,
    )
    return password


def change_password(
    *, session: Session, user: User, current_password: str, new_password: str, now: datetime
) -> None:
    """The signed-in user's own change; clears ``must_change_password`` and ends every session,
    this one included (the user signs in again with the new password)."""
    _lock(session, User, user.id)
    if not verify_secret(current_password, user.password_hash):
        raise WrongPassword("The current password is wrong")
    _refuse_weak(
        new_password,
        also=["must differ from the current one"] if new_password == current_password else [],
    )
    user.password_hash = hash_secret(new_password)
    user.must_change_password = False
    end_sessions(session=session, user=user, now=now)
    events.append(
        session=session,
        entity_type=EntityType.user,
        entity_id=user.id,
        kind=EventKind.field_changed,
        actor=user,
        field="password",
        data={"reason": "changed_by_user"},
        occurred_at=now,
    )


def reset_mfa(*, session: Session, user: User, actor: User | None, now: datetime) -> None:
    """Admin recovery for a lost authenticator: MFA off, sessions ended; the user enrols again."""
    mfa.reset(session=session, user=user, actor=actor, at=now)
    end_sessions(session=session, user=user, now=now)


def unlock(*, session: Session, user: User, actor: User | None, now: datetime) -> None:
    """Lift a login lock on the user's email address now."""
    if user.email:
        throttling.record(
            session=session,
            email=user.email.lower(),
            client=f"admin:{actor.id}" if actor else "admin:cli",
            outcome=Outcome.admin_unlock,
            now=now,
            user=user,
        )


# --- sign-in ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """What a login or refresh hands out."""

    user: User
    access_token: str
    expires_in: int
    refresh: tokens.IssuedRefreshToken | None
    scope: str | None


@lru_cache
def _decoy_hash() -> str:
    # Verified against when the email is unknown, so both cases cost the same time.
    return hash_secret(generate_password())


def mfa_required_for(user: User, settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return bool(set(user.roles) & set(settings.mfa_required_roles))


def _access(user: User, settings: Settings, scope: str | None = None) -> tuple[str, int]:
    token = create_access_token(
        user_id=user.id, settings=settings, extra={"scope": scope} if scope else None
    )
    return token, settings.access_token_minutes * 60


def login(
    *,
    session: Session,
    email: str,
    password: str,
    client: str,
    now: datetime,
    totp_code: str | None = None,
    recovery_code: str | None = None,
    settings: Settings | None = None,
) -> SignIn:
    """Check credentials and the second factor; every attempt is recorded.

    Raises ClientThrottled (429), AccountLocked (423), InvalidCredentials or MfaCodeRequired
    (401) after recording the attempt: the caller must commit before passing the error on.

    Attempts on one address run one after the other (a lock held until commit), so the lock
    check, the failure count and the new failure are one step and parallel wrong passwords
    cannot slip past the limit. Failures that count for the client also wait for the client's
    lock and check its limit again under it.
    """
    settings = settings or get_settings()
    email = email.strip().lower()

    def refuse(outcome: Outcome, error: Exception, user: User | None = None) -> NoReturn:
        if outcome in throttling.CLIENT_FAILURES:
            throttling.serialize_client(session=session, client=client)
            blocked_until = throttling.client_blocked_until(
                session=session, client=client, now=now, settings=settings
            )
            if blocked_until is not None:  # reached by parallel attempts since the first check
                outcome, error = (
                    Outcome.client_throttled,
                    ClientThrottled(retry_at=blocked_until, now=now),
                )
        attempt = throttling.record(
            session=session,
            email=email,
            client=client,
            outcome=outcome,
            now=now,
            user=user,
            settings=settings,
        )
        if attempt.locked_until is not None:
            raise AccountLocked(locked_until=attempt.locked_until, now=now)
        raise error

    blocked_until = throttling.client_blocked_until(
        session=session, client=client, now=now, settings=settings
    )
    if blocked_until is not None:
        refuse(Outcome.client_throttled, ClientThrottled(retry_at=blocked_until, now=now))
    throttling.serialize_account(session=session, email=email)
    locked_until = throttling.account_locked_until(session=session, email=email, now=now)
    if locked_until is not None:
        refuse(Outcome.account_locked, AccountLocked(locked_until=locked_until, now=now))

    user = session.scalar(
        select(User)
        .where(func.lower(User.email) == email)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    password_ok = verify_secret(password, (user.password_hash if user else None) or _decoy_hash())
    if user is None:
        refuse(Outcome.unknown_email, InvalidCredentials())
    elif not password_ok:
        refuse(Outcome.bad_password, InvalidCredentials(), user)
    elif not user.is_active:
        refuse(Outcome.inactive, InvalidCredentials(), user)

    scope = None
    second_factor = None
    if user.mfa_enabled:
        if totp_code:
            second_factor = "totp"
            accepted = mfa.consume_totp(user=user, code=totp_code, at=now)
        elif recovery_code:
            second_factor = "recovery_code"
            accepted = mfa.consume_recovery_code(
                session=session, user=user, code=recovery_code, at=now
            )
        else:
            refuse(
                Outcome.mfa_code_missing,
                MfaCodeRequired("This account uses MFA: send totp_code, or a recovery_code"),
                user,
            )
        if not accepted:
            refuse(
                Outcome.bad_mfa_code,
                MfaCodeRequired("The MFA code is wrong, expired or already used"),
                user,
            )
    elif mfa_required_for(user, settings):
        scope = MFA_ENROLMENT_SCOPE

    throttling.record(
        session=session,
        email=email,
        client=client,
        outcome=Outcome.ok_mfa_enrolment if scope else Outcome.ok,
        now=now,
        user=user,
        settings=settings,
    )
    user.last_login_at = now
    refresh = None
    if scope is None:
        refresh = tokens.issue(
            session=session, user=user, now=now, client=client, settings=settings
        )
    events.append(
        session=session,
        entity_type=EntityType.user,
        entity_id=user.id,
        kind=EventKind.user_logged_in,
        actor=user,
        data={"client": client, "second_factor": second_factor, "scope": scope},
        occurred_at=now,
    )
    access_token, expires_in = _access(user, settings, scope)
    return SignIn(
        user=user, access_token=access_token, expires_in=expires_in, refresh=refresh, scope=scope
    )


def refresh(
    *,
    session: Session,
    refresh_token: str,
    client: str,
    now: datetime,
    settings: Settings | None = None,
) -> SignIn:
    """Rotate: spend the presented token, issue its successor in the same family.

    Raises InvalidRefreshToken or RefreshTokenReused; on reuse the family is revoked, so the
    caller must commit before passing the error on.
    """
    settings = settings or get_settings()
    spent = tokens.spend(session=session, token=refresh_token, now=now, settings=settings)
    user = session.get(User, spent.user_id)
    if user is None or not user.is_active:
        tokens.revoke_family(session=session, family_id=spent.family_id, now=now)
        raise InvalidRefreshToken("The account is inactive")
    if not user.mfa_enabled and mfa_required_for(user, settings):
        # The MFA policy now covers this user's role: a fresh login leads to enrolment.
        tokens.revoke_family(session=session, family_id=spent.family_id, now=now)
        raise InvalidRefreshToken("Your role now requires MFA; sign in again to enrol")
    issued = tokens.issue(
        session=session,
        user=user,
        now=now,
        client=client,
        family=spent,
        settings=settings,
    )
    access_token, expires_in = _access(user, settings)
    return SignIn(
        user=user, access_token=access_token, expires_in=expires_in, refresh=issued, scope=None
    )


def logout(
    *, session: Session, user: User, refresh_token: str | None, everywhere: bool, now: datetime
) -> int:
    """Revoke the login the refresh token belongs to, or every login of the user.

    Either way the user's access tokens issued until now are refused at once (the token of this
    request among them): the user's other logins keep their refresh tokens and get a new access
    token with their next refresh. Returns how many refresh tokens were revoked."""
    if everywhere:
        revoked = tokens.revoke_all_for_user(session=session, user_id=user.id, now=now)
    else:
        stored = tokens.find(session=session, token=refresh_token or "")
        if stored is None or stored.user_id != user.id:
            raise InvalidRefreshToken("This refresh token is not one of yours")
        revoked = tokens.revoke_family(session=session, family_id=stored.family_id, now=now)
    user.sessions_valid_after = session_clock()
    session.flush()
    return revoked


# --- teams --------------------------------------------------------------------------------------


def _team_event(
    session: Session,
    team: Team,
    *,
    kind: EventKind,
    actor: User | None,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    data: dict[str, Any] | None = None,
) -> None:
    events.append(
        session=session,
        entity_type=EntityType.team,
        entity_id=team.id,
        kind=kind,
        actor=actor,
        field=field,
        old_value=old,
        new_value=new,
        data=data,
    )


def list_teams(
    *, session: Session, params: PageParams, active: bool | None = None, q: str | None = None
) -> Page[Any]:
    statement = select(Team)
    if active is not None:
        statement = statement.where(Team.is_active.is_(active))
    if q:
        statement = statement.where(Team.name.icontains(q.strip(), autoescape=True))
    return paginate(session, statement, params, sortable=TEAM_SORTABLE, default_sort=[Team.id])


def _refuse_taken_name(session: Session, name: str, team: Team | None = None) -> None:
    existing = session.scalar(select(Team).where(func.lower(Team.name) == name.lower()))
    if existing is not None and existing is not team:
        raise TeamNameTaken(f"A team named {existing.name!r} exists")


def create_team(*, session: Session, data: TeamCreate, actor: User | None) -> Team:
    _refuse_taken_name(session, data.name)
    team = Team(**data.model_dump())
    session.add(team)
    session.flush()
    _team_event(session, team, kind=EventKind.created, actor=actor, new=team.name)
    session.refresh(team)
    return team


def update_team(*, session: Session, team: Team, data: TeamUpdate, actor: User | None) -> Team:
    _lock(session, Team, team.id)
    nullable = {"description", "email"}
    for field in TeamUpdate.model_fields:  # declared order, so events come in a stable order
        if field not in data.model_fields_set:
            continue
        value = getattr(data, field)
        if value is None and field not in nullable:
            continue
        if value == getattr(team, field):
            continue
        if field == "name":
            _refuse_taken_name(session, value, team)
        _team_event(
            session,
            team,
            kind=EventKind.field_changed,
            actor=actor,
            field=field,
            old=getattr(team, field),
            new=value,
        )
        setattr(team, field, value)
    session.flush()
    return team


def deactivate_team(*, session: Session, team: Team, actor: User | None) -> None:
    """Teams are never removed: tickets and history refer to them."""
    update_team(session=session, team=team, data=TeamUpdate(is_active=False), actor=actor)


def set_membership(
    *, session: Session, team: Team, user: User, is_available: bool, actor: User | None
) -> TeamMember:
    """Add ``user`` to ``team``, or change their availability for auto-assignment."""
    _lock(session, Team, team.id)
    membership = session.get(TeamMember, (team.id, user.id))
    if membership is None:
        membership = TeamMember(team_id=team.id, user_id=user.id, is_available=is_available)
        session.add(membership)
        _team_event(
            session,
            team,
            kind=EventKind.field_changed,
            actor=actor,
            field="member",
            new=user.id,
            data={"user_id": user.id, "is_available": is_available},
        )
    elif membership.is_available != is_available:
        _team_event(
            session,
            team,
            kind=EventKind.field_changed,
            actor=actor,
            field="member_available",
            old=membership.is_available,
            new=is_available,
            data={"user_id": user.id},
        )
        membership.is_available = is_available
    session.flush()
    session.refresh(team)
    session.refresh(user)
    return membership


def get_membership(*, session: Session, team: Team, user: User) -> TeamMember | None:
    return session.get(TeamMember, (team.id, user.id))


def remove_membership(
    *, session: Session, team: Team, membership: TeamMember, actor: User | None
) -> None:
    _lock(session, Team, team.id)
    user_id = membership.user_id
    session.delete(membership)
    _team_event(
        session,
        team,
        kind=EventKind.field_changed,
        actor=actor,
        field="member",
        old=user_id,
        data={"user_id": user_id},
    )
    session.flush()
    session.refresh(team)
