"""Migration 0021_record_escalations turns incidents' alerts, escalations and notifications into
records of type ``incident`` (their ``incident_id`` derived from the record), and back."""

from datetime import timedelta

from alembic import command
from sqlalchemy import create_engine, pool, text

from operational import worker
from operational.core.migrate import alembic_config, upgrade
from tests.sla.test_worker import T0, _committed_setup

TABLES = ("sla_alerts", "sla_escalations", "sla_notifications")


def _rows(engine, table: str, columns: str) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(f"select {columns} from operational.{table} order by id")
            )
        ]


def test_incident_escalations_survive_the_migration_both_ways(fresh_database):
    url = fresh_database("record_migration")
    ids = _committed_setup(url, incidents=2, opened_at=T0)
    engine = create_engine(url, poolclass=pool.NullPool)
    report = worker.run_once(
        engine=engine, now=T0 + timedelta(hours=2), auto_close=False, dispatch=False
    )
    assert report.escalations == 2 * 2 * 2  # two rules, two timers, two incidents
    before = {table: _rows(engine, table, "id, incident_id") for table in TABLES}
    assert {incident for rows in before.values() for _, incident in rows} == set(ids)

    command.downgrade(alembic_config(url), "0016_source_reconciliation")
    assert {table: _rows(engine, table, "id, incident_id") for table in TABLES} == before

    upgrade(url)
    after = {
        table: _rows(engine, table, "id, incident_id, record_type, record_id") for table in TABLES
    }
    assert after == {
        table: [(id_, incident, "incident", incident) for id_, incident in rows]
        for table, rows in before.items()
    }
    with engine.connect() as connection:
        default_rule = connection.execute(
            text(
                "select action, delay_minutes, is_active from operational.sla_escalation_rules"
                " where record_type = 'request_approval'"
            )
        ).all()
    assert [tuple(row) for row in default_rule] == [("escalate", 480, True)]
    # Deleting an incident still takes its records along (the derived key cascades).
    with engine.begin() as connection:
        connection.execute(text("delete from operational.incidents where id = :id"), {"id": ids[0]})
    assert {incident for _, incident in _rows(engine, "sla_escalations", "id, incident_id")} == {
        ids[1]
    }
    engine.dispose()
