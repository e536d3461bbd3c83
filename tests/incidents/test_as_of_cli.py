"""``itsm incident show`` against a real, committed database (CLI commands open their own
session)."""

from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from operational.cli import app
from operational.incidents import flows
from tests.factories import Factory
from tests.incidents.test_as_of import Office, local

runner = CliRunner()


def _held_incident(url: str) -> str:
    """Opened Monday 09:00 Amsterdam, assigned 09:30, on hold awaiting the caller from 11:00."""
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        office = Office(session, Factory(session))
        incident = office.incident(local(2, 9))
        flows.assign(
            session=session,
            incident=incident,
            actor=office.agent,
            team_id=office.team.id,
            assignee_id=office.agent.id,
            now=local(2, 9, 30),
        )
        flows.transition(
            session=session,
            incident=incident,
            actor=office.agent,
            state="on_hold",
            hold_reason="awaiting_caller",
            now=local(2, 11),
        )
        number = incident.number
        session.commit()
    engine.dispose()
    return number


def test_show_now_and_as_of(committed_database):
    number = _held_incident(committed_database)

    now = runner.invoke(app, ["incident", "show", number])
    assert now.exit_code == 0, now.output
    assert "on_hold (awaiting_caller)" in now.output and "Ada Agent" in now.output

    before_hold = runner.invoke(app, ["incident", "show", number, "--as-of", "2026-03-02 09:45"])
    assert before_hold.exit_code == 0, before_hold.output
    assert f"{number} as of 2026-03-02T09:45:00+00:00" in before_hold.output
    assert "state     assigned" in before_hold.output and "Desk" in before_hold.output
    # 09:00-10:45 Amsterdam: 105 business minutes of 480, 375 left.
    assert "105.0" in before_hold.output and "375.0" in before_hold.output

    as_json = runner.invoke(
        app, ["incident", "show", number, "--as-of", "2026-03-02T11:00Z", "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    assert '"state": "on_hold"' in as_json.output and '"remaining_minutes": 360.0' in as_json.output


def test_show_refusals(committed_database):
    number = _held_incident(committed_database)
    early = runner.invoke(app, ["incident", "show", number, "--as-of", "2026-03-01T00:00Z"])
    assert early.exit_code == 1 and "was opened at" in early.output
    garbled = runner.invoke(app, ["incident", "show", number, "--as-of", "last week"])
    assert garbled.exit_code == 2 and "ISO 8601" in garbled.output
    missing = runner.invoke(app, ["incident", "show", "INC9999999"])
    assert missing.exit_code == 1 and "INC9999999" in missing.output


def test_help_explains_as_of():
    result = runner.invoke(app, ["incident", "show", "--help"])
    assert result.exit_code == 0
    assert "--as-of" in result.output and "in force then" in result.output
