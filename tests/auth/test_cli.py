"""``itsm user`` against a real, committed database (CLI commands commit)."""

import pytest
from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from operational.auth.models import RecoveryCode, User
from operational.auth.security import verify_secret
from operational.cli import app

runner = CliRunner()


@pytest.fixture
def cli_session(committed_database):
    """A session on the CLI's database, to look at what the commands committed."""
    engine = create_engine(committed_database, poolclass=pool.NullPool)
    with Session(engine) as session:
        yield session
    engine.dispose()


def itsm(*arguments: str):
    return runner.invoke(app, ["user", *arguments])


def _user(session: Session, email: str) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.email == email))


def test_create_prints_a_one_time_password_that_works(cli_session):
    result = itsm(
        "create",
        "--email",
        "Ops.Lead@Example.com",
        "--role",
        "agent",
        "--role",
        "manager",
        "--team",
        "Service Desk",
    )

    assert result.exit_code == 0, result.output
    assert "created" in result.output and "(agent, manager)" in result.output
    password = result.output.split("one-time password:")[1].split()[0]
    user = _user(cli_session, "ops.lead@example.com")
    assert verify_secret(password, user.password_hash)
    assert user.must_change_password is True
    assert user.roles == ["agent", "manager"]
    assert [membership.team.name for membership in user.memberships] == ["Service Desk"]


def test_create_with_a_password_and_refusals(cli_session):
    chosen = itsm(
        "create", "--email", "a@example.com", "--role", "admin", "--password", "a-long-passphrase"
    )
    assert chosen.exit_code == 0, chosen.output
    assert "one-time password" not in chosen.output
    assert _user(cli_session, "a@example.com").must_change_password is False

    taken = itsm("create", "--email", "A@example.com", "--role", "agent")
    assert taken.exit_code == 2 and "already has an account" in taken.output
    weak = itsm("create", "--email", "b@example.com", "--role", "agent", "--password", "password")
    assert weak.exit_code == 2 and "at least 12 characters" in weak.output
    zone = itsm("create", "--email", "c@example.com", "--role", "agent", "--timezone", "Moon/Base")
    assert zone.exit_code == 2 and "IANA" in zone.output
    role = itsm("create", "--email", "d@example.com", "--role", "wizard")
    assert role.exit_code == 2 and "wizard" in role.output
    assert _user(cli_session, "b@example.com") is None


def test_list_filters_by_role_team_and_activity(cli_session):
    itsm("create", "--email", "x1@example.com", "--role", "agent", "--team", "Network")
    itsm("create", "--email", "x2@example.com", "--role", "admin")
    itsm("create", "--email", "x3@example.com", "--role", "agent")
    _user(cli_session, "x3@example.com").is_active = False
    cli_session.commit()

    def emails(*filters: str) -> list[str]:
        result = itsm("list", "--plain", *filters)
        assert result.exit_code == 0, result.output
        return [line.split("\t")[1] for line in result.output.splitlines()]

    assert emails() == ["x1@example.com", "x2@example.com"]
    assert emails("--all") == ["x1@example.com", "x2@example.com", "x3@example.com"]
    assert emails("--role", "agent", "--all") == ["x1@example.com", "x3@example.com"]
    assert emails("--team", "Network") == ["x1@example.com"]
    line = itsm("list", "--plain", "--team", "Network").output.splitlines()[0].split("\t")
    assert line[3:7] == ["agent", "Network", "off", "yes"]
    table = itsm("list")
    assert table.exit_code == 0 and "2 user(s)" in table.output
    missing = itsm("list", "--team", "Nope")
    assert missing.exit_code == 1 and "no team named" in missing.output


def test_reset_mfa_turns_it_off_for_the_user(cli_session):
    itsm("create", "--email", "phone@example.com", "--role", "agent")
    user = _user(cli_session, "phone@example.com")
    user.mfa_secret, user.mfa_enabled, user.mfa_last_used_step = "JBSWY3DPEHPK3PXP", True, 5
    cli_session.add(RecoveryCode(user_id=user.id, code_hash="x"))
    cli_session.commit()

    result = itsm("reset-mfa", "--email", "PHONE@example.com")

    assert result.exit_code == 0, result.output
    assert "MFA reset" in result.output and "was on" in result.output
    user = _user(cli_session, "phone@example.com")
    assert (user.mfa_enabled, user.mfa_secret, user.mfa_last_used_step) == (False, None, None)
    assert (
        cli_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all() == []
    )
    unknown = itsm("reset-mfa", "--email", "nobody@example.com")
    assert unknown.exit_code == 1 and "no user" in unknown.output


def test_reset_password_prints_a_new_one_time_password(cli_session):
    itsm(
        "create",
        "--email",
        "forgot@example.com",
        "--role",
        "agent",
        "--password",
        "first-passphrase",
    )

    result = itsm("reset-password", "--email", "forgot@example.com")

    assert result.exit_code == 0, result.output
    password = result.output.split("forgot@example.com:")[1].split()[0]
    user = _user(cli_session, "forgot@example.com")
    assert verify_secret(password, user.password_hash) and user.must_change_password is True
    assert not verify_secret("first-passphrase", user.password_hash)


def test_help_explains_each_command():
    result = runner.invoke(app, ["user", "--help"])
    assert result.exit_code == 0
    for command in ("create", "list", "reset-mfa", "reset-password", "unlock"):
        assert command in result.output
    create_help = runner.invoke(app, ["user", "create", "--help"]).output
    for option in ("--email", "--role", "--team", "--password", "--timezone"):
        assert option in create_help
