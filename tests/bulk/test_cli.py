"""``itsm incident bulk`` against a committed database (the command opens its own sessions)."""

from sqlalchemy import select
from typer.testing import CliRunner

from operational.bulk.models import BulkJob
from operational.cli import app
from operational.core.db import session_scope
from operational.incidents import flows
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentCreate
from tests.factories import Factory

runner = CliRunner()


def _incidents(count: int) -> tuple[str, list[str]]:
    with session_scope() as session:
        agent = Factory(session).user(roles=("agent",))
        numbers = [
            flows.create(
                session=session,
                data=IncidentCreate(title=f"Printer {n}", category="Printing"),
                actor=agent,
            ).incident.number
            for n in range(count)
        ]
        return agent.email, numbers


def test_bulk_from_the_command_line(committed_database):
    email, numbers = _incidents(3)

    preview = runner.invoke(
        app,
        [
            "incident",
            "bulk",
            "--as",
            email,
            "--where",
            "category=Printing",
            "--dry-run",
            "--set",
            "urgency=1",
        ],
    )
    assert preview.exit_code == 0, preview.output
    assert "3 incidents match" in preview.output

    done = runner.invoke(
        app,
        [
            "incident",
            "bulk",
            "--as",
            email,
            "--ids",
            ",".join([*numbers, "INC0999999"]),
            "--set",
            "urgency=1",
            "--comment",
            "Raised in the printer sweep",
            "--work-note",
        ],
    )
    assert done.exit_code == 1, done.output  # one record failed: INC0999999
    assert "3 updated, 0 skipped, 1 failed" in done.output
    assert "INC0999999" in done.output
    with session_scope() as session:
        assert set(session.scalars(select(Incident.urgency))) == {1}
        assert session.scalar(select(BulkJob.status)) == "done"


def test_bulk_refuses_someone_who_may_not_update_incidents(committed_database):
    _, numbers = _incidents(1)
    with session_scope() as session:
        requester = Factory(session).user(roles=("requester",)).email
    refused = runner.invoke(
        app, ["incident", "bulk", "--as", requester, "--ids", numbers[0], "--set", "urgency=1"]
    )
    assert refused.exit_code == 1
    assert "may not update incidents" in refused.output
