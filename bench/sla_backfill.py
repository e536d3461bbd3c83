"""Cost of the SLA replay of imported incidents alone, the part of `itsm ingest` with timers
that `--sla skip` leaves out.

Loads a ServiceNow audit export once with `--sla skip` into a scratch database
``itsm_bench_sla_backfill`` (kept with ``--reuse``), then times ``incidents.flows.backfill_sla``
over all its incidents in one transaction that is rolled back, so runs can be repeated on the
same data. Prints the CPU seconds of this process and of its PostgreSQL backend (from /proc,
when the server runs on this machine), per incident, and the load average.

Run: python bench/sla_backfill.py --export /tmp/audit_300k.csv [--reuse] [--runs 3]
No asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, pool, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database
from ingest import loader
from ingest.sources import servicenow_audit
from operational.core.migrate import upgrade
from operational.incidents import flows as incident_flows
from operational.incidents.models import Incident


def backend_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, required=True)
    parser.add_argument("--reuse", action="store_true", help="Keep the database loaded before.")
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()

    url = scratch_database("itsm_bench_sla_backfill", reuse=arguments.reuse)
    engine = create_engine(url, poolclass=pool.NullPool)
    if not arguments.reuse:
        upgrade(url)
        parsed = servicenow_audit.parse(arguments.export)
        loader.load(parsed, engine=engine, sla_backfill=False, workers=1)
    per_incident = []
    for run in range(1, arguments.runs + 1):
        with Session(engine) as session:
            ids = list(session.scalars(select(Incident.id).order_by(Incident.id)))
            pid = session.scalar(text("select pg_backend_pid()"))
            database_before = backend_cpu(pid)
            own_before, started = time.process_time(), time.perf_counter()
            incident_flows.backfill_sla(session=session, incident_ids=ids)
            own = time.process_time() - own_before
            wall = time.perf_counter() - started
            database_after = backend_cpu(pid)
            session.rollback()
        database = (
            f"{database_after - database_before:.2f} s"
            if database_before is not None and database_after is not None
            else "not visible"
        )
        per_incident.append(own / len(ids) * 1e6)
        print(
            f"run {run}: {len(ids):,} incidents, CPU {own:.2f} s ({per_incident[-1]:.0f} µs per "
            f"incident), PostgreSQL backend {database}, wall {wall:.1f} s, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
    print(f"median: {statistics.median(per_incident):.0f} µs of CPU per incident")
    engine.dispose()


if __name__ == "__main__":
    main()
