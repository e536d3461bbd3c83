"""What an import with SLA timers inline wrote, as text to compare across commits.

Imports a ServiceNow audit export into a fresh scratch database ``itsm_bench_sla_dump`` with
timers inline, in this process (``--workers 1``) and with the SLA replay's ``now`` fixed, then
writes the SLA timers, the SLA events and the SLA alerts it made, sorted, one line each, to
``--out``. Two commits that replay the same way write the same file (``cmp`` them). Ids that
depend on the order rows were written in (timers, alerts, events) are left out; incidents keep
theirs (drawn in file order). Events' ``recorded_at`` and hashes are the transaction's time.

Run: python bench/sla_dump.py --export /tmp/audit_300k.csv --out /tmp/sla_after.txt
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database
from ingest import loader
from ingest.sources import servicenow_audit
from operational.core.migrate import upgrade
from operational.incidents import flows as incident_flows

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

QUERIES = {
    "sla_timers": """
        select incident_id, target, policy_id, target_minutes, started_at, due_at,
            elapsed_minutes, paused_minutes, state, completed_at, breached_at, warnings_fired,
            next_alert_at, computed_at, error
        from operational.sla_timers order by incident_id, target
    """,
    "sla_events": """
        select entity_id, seq, occurred_at, actor_id, actor_label, kind, field, old_value,
            new_value, data, source_system, synthesized
        from operational.events
        where entity_type = 'incident' and (kind like 'sla%' or actor_label = 'sla')
        order by entity_id, seq
    """,
    "sla_alerts": """
        select t.incident_id, t.target, a.record_type, a.record_id, a.target_minutes,
            a.threshold, a.occurred_at, a.escalated_at
        from operational.sla_alerts a join operational.sla_timers t on t.id = a.timer_id
        order by t.incident_id, t.target, a.target_minutes, a.threshold
    """,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch-events", type=int, default=50_000)
    arguments = parser.parse_args()

    url = scratch_database("itsm_bench_sla_dump", reuse=False)
    engine = create_engine(url, poolclass=pool.NullPool)
    upgrade(url)
    incident_flows.now_or = lambda now: now or NOW  # the replay's clock, fixed
    parsed = servicenow_audit.parse(arguments.export)
    loader.load(
        parsed,
        engine=engine,
        sla_backfill=True,
        workers=1,
        batch_events=arguments.batch_events,
    )
    with engine.connect() as connection, arguments.out.open("w") as out:
        for name, sql in QUERIES.items():
            rows = connection.execute(text(sql)).all()
            print(f"{name}: {len(rows):,} rows")
            for row in rows:
                out.write(f"{name}\t" + "\t".join(map(str, row)) + "\n")
    engine.dispose()


if __name__ == "__main__":
    main()
