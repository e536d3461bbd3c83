"""Migration 0015_audit_chain hashes the events that were logged before it, record by record in
seq order, so that `verify` finds every chain intact afterwards."""

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

from operational.audit import service as audit
from operational.core.keys import BUILT_IN_AUDIT_KEY
from operational.core.migrate import alembic_config, upgrade
from operational.events import chain

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def test_existing_events_are_hashed_in_order(fresh_database):
    url = fresh_database("backfill")
    command.downgrade(alembic_config(url), "0010_hardening")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        for entity_id, count in ((1, 3), (2, 1)):
            for seq in range(1, count + 1):
                connection.execute(
                    text(
                        "insert into operational.events (entity_type, entity_id, seq, "
                        "occurred_at, kind, new_value, data, source_system) values "
                        "('change', :id, :seq, :at, 'field_changed', :value, "
                        "cast(:data as jsonb), 'jira')"
                    ),
                    {
                        "id": entity_id,
                        "seq": seq,
                        "at": T0 + timedelta(hours=seq),
                        "value": f"v{seq}",
                        "data": '{"b": 1.0, "a": [1e2, "x"]}',
                    },
                )
    upgrade(url)
    with Session(engine) as session:
        rows = session.execute(
            text(
                f"select {', '.join(chain.FIELDS)}, prev_hash, hash from operational.events "
                "order by entity_id, seq"
            )
        ).mappings()
        rows = [dict(row) for row in rows]
        assert [row["prev_hash"] is None for row in rows] == [True, False, False, True]
        assert rows[1]["prev_hash"] == rows[0]["hash"]
        for row in rows:
            assert row["hash"] == chain.event_hash(row, row["prev_hash"])
        assert audit.verify(session=session, key=BUILT_IN_AUDIT_KEY).intact
    engine.dispose()
