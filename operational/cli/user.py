"""``itsm user``: accounts, from the command line (first admin, recovery when locked out)."""

import typer
from rich.console import Console
from rich.table import Table

from operational.auth.permissions import Role

app = typer.Typer(
    help="Create, list and recover user accounts (uses the configured database).",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _schema_first() -> None:
    """Every user command needs the schema: migrate a new database first."""
    from operational.cli.db import ensure_schema

    ensure_schema(err_console)


def _refuse(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]refused[/]: {message}")
    return typer.Exit(code)


@app.command()
def create(
    email: str = typer.Option(..., help="Login email (case does not matter)."),
    role: list[Role] = typer.Option(
        ..., help="Role; repeat for several (--role agent --role manager)."
    ),
    team: list[str] = typer.Option(
        [], help="Team (assignment group) by name; created when missing. Repeat for several."
    ),
    password: str | None = typer.Option(
        None,
        help="Password. Omit it to generate a one-time password, printed once, that must be "
        "changed at first login.",
    ),
    display_name: str | None = typer.Option(
        None, help="Name shown to others (default: from the email)."
    ),
    timezone: str = typer.Option("UTC", help="IANA time zone, e.g. Europe/Amsterdam."),
) -> None:
    """Create a user account.

    Example: itsm user create --email ada@example.com --role agent --team "Service Desk"
    """
    from operational.auth import service
    from operational.auth.security import generate_password
    from operational.core.db import session_scope
    from operational.core.errors import DomainError

    one_time = password is None
    secret = password or generate_password()
    try:
        with session_scope() as session:
            user = service.create_user(
                session=session,
                email=email,
                password=secret,
                roles=role,
                teams=team,
                display_name=display_name,
                timezone=timezone,
                must_change_password=one_time,
            )
            user_id, stored_email = user.id, user.email
    except DomainError as exc:
        raise _refuse(exc.detail) from None
    roles = ", ".join(sorted(r.value for r in role))
    console.print(f"[green]created[/] user {user_id} {stored_email} ({roles})")
    if one_time:
        console.print(f"one-time password: [bold]{secret}[/]")
        console.print("It must be changed at first login (POST /api/v1/auth/password).")


@app.command("list")
def list_users(
    role: Role | None = typer.Option(None, help="Only users holding this role."),
    team: str | None = typer.Option(None, help="Only members of this team (by name)."),
    include_inactive: bool = typer.Option(False, "--all", help="Include deactivated users."),
    plain: bool = typer.Option(
        False, "--plain", help="Tab-separated lines without a header, for scripts."
    ),
) -> None:
    """List user accounts: id, email, name, roles, teams, MFA, active, last login."""
    from operational.auth import service
    from operational.core.db import session_scope

    with session_scope() as session:
        team_id = None
        if team is not None:
            found = service.get_team_by_name(session=session, name=team)
            if found is None:
                raise _refuse(f"there is no team named {team!r}", 1)
            team_id = found.id
        rows = []
        for user in service.all_users(
            session=session,
            role=role,
            team_id=team_id,
            active=None if include_inactive else True,
        ):
            teams = sorted(membership.team.name for membership in user.memberships)
            rows.append(
                [
                    str(user.id),
                    user.email or "",
                    user.display_name,
                    ",".join(user.roles),
                    ",".join(teams),
                    "on" if user.mfa_enabled else "off",
                    "yes" if user.is_active else "no",
                    user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "",
                ]
            )
    if plain:
        for row in rows:
            print("\t".join(row))
        return
    table = Table("id", "email", "name", "roles", "teams", "MFA", "active", "last login")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"{len(rows)} user(s)")


@app.command("reset-mfa")
def reset_mfa(
    email: str = typer.Option(..., help="Email of the user who lost their authenticator."),
) -> None:
    """Turn MFA off for a user (lost phone), forget their recovery codes and end their sessions.

    They sign in with their password and enrol again; when their role requires MFA, that
    login only allows enrolment.
    """
    from datetime import UTC, datetime

    from operational.auth import service
    from operational.core.db import session_scope

    with session_scope() as session:
        user = service.get_by_email(session=session, email=email)
        if user is None:
            raise _refuse(f"there is no user with email {email}", 1)
        was_enabled = user.mfa_enabled
        service.reset_mfa(session=session, user=user, actor=None, now=datetime.now(UTC))
    state = "was on" if was_enabled else "was not enabled"
    console.print(f"[green]MFA reset[/] for {email} (it {state}); they must enrol again.")


@app.command("reset-password")
def reset_password(
    email: str = typer.Option(..., help="Email of the user who forgot their password."),
) -> None:
    """Give a user a new one-time password (printed once) and end their sessions."""
    from datetime import UTC, datetime

    from operational.auth import service
    from operational.core.db import session_scope

    with session_scope() as session:
        user = service.get_by_email(session=session, email=email)
        if user is None:
            raise _refuse(f"there is no user with email {email}", 1)
        password = service.reset_password(
            session=session, user=user, actor=None, now=datetime.now(UTC)
        )
    console.print(f"one-time password for {email}: [bold]{password}[/]")
    console.print("It must be changed at next login.")


@app.command()
def unlock(
    email: str = typer.Option(..., help="Email address locked by failed logins."),
) -> None:
    """Lift a login lock now instead of waiting for ITSM_LOGIN_LOCKOUT_MINUTES to pass."""
    from datetime import UTC, datetime

    from operational.auth import service
    from operational.core.db import session_scope

    with session_scope() as session:
        user = service.get_by_email(session=session, email=email)
        if user is None:
            raise _refuse(f"there is no user with email {email}", 1)
        service.unlock(session=session, user=user, actor=None, now=datetime.now(UTC))
    console.print(f"[green]unlocked[/] {email}")
