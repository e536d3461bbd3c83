"""``itsm audit`` against a real, committed database."""

import json

import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from operational.cli import app
from operational.events import service as events

runner = CliRunner()


@pytest.fixture
def owner_session(committed_database):
    engine = create_engine(committed_database, poolclass=pool.NullPool)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_verify_anchor_and_a_break(owner_session, tmp_path):
    for number in range(3):
        events.append(
            session=owner_session,
            entity_type="change",
            entity_id=7,
            kind="field_changed",
            actor=None,
            new_value=str(number),
        )
    owner_session.commit()

    intact = runner.invoke(app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact" in intact.output and "3 events in 1 records" in intact.output

    anchor_file = tmp_path / "anchor.json"
    anchored = runner.invoke(app, ["audit", "anchor", "--output", str(anchor_file)])
    assert anchored.exit_code == 0, anchored.output
    anchor = json.loads(anchor_file.read_text())
    assert set(anchor) >= {"seal_id", "sealed_at", "root", "signature"}
    printed = runner.invoke(app, ["audit", "anchor"])
    assert json.loads(printed.output)["seal_id"] == anchor["seal_id"] + 1

    assert runner.invoke(app, ["audit", "verify", "--anchor", str(anchor_file)]).exit_code == 0

    owner_session.execute(text("alter table operational.events disable trigger user"))
    owner_session.execute(
        text("update operational.events set new_value = 'x' where entity_id = 7 and seq = 2")
    )
    owner_session.execute(text("alter table operational.events enable trigger user"))
    owner_session.commit()
    broken = runner.invoke(app, ["audit", "verify", "--from", "2000-01-01"])
    assert broken.exit_code == 1
    assert "change 7 seq 2: its content does not give its stored hash" in broken.output


def test_the_worker_seals_when_due(owner_session):
    from operational.audit.models import Seal
    from operational.worker import seal_audit_trail

    events.append(
        session=owner_session, entity_type="change", entity_id=8, kind="created", actor=None
    )
    owner_session.commit()
    assert seal_audit_trail() is True
    assert seal_audit_trail() is False  # the last seal is recent
    assert owner_session.query(Seal).count() == 1
