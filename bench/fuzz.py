"""A longer fuzzing campaign against the API, on demand: the CI test's campaign (tests/fuzzing.py:
schemathesis, valid and invalid requests to every operation, every response checked), with more
cases and fresh random ones each run.

1. Migrates a scratch database ``itsm_bench_fuzz`` (dropped and re-created) on the server of
   ITSM_DATABASE_URL, or else on the embedded server under ITSM_HOME.
2. Seeds one of every record through the API (tests/fuzzing.py ``seed``).
3. Runs, for each role, ``--examples`` cases per operation and generation mode (positive and
   negative), random unless ``--derandomize``, each request in a savepoint rolled back after.

Prints, per role, the cases sent, the time, the responses by status and every failure kind
with examples (a failure is a server error, an undocumented status, a response that breaks
its schema, invalid data accepted, or auth not enforced). No asserts: the figures are for
people, and the exit code is 1 when anything failed.

Run: python bench/fuzz.py [--examples 50] [--roles admin,requester,agent,manager,auditor]
     [--only /incidents] [--derandomize]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

os.environ.setdefault("ITSM_RUN_WORKER", "false")
os.environ.setdefault("ITSM_LOG_JSON", "false")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, pool  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.scratch import scratch_database  # noqa: E402
from operational.core.migrate import upgrade  # noqa: E402
from tests import fuzzing  # noqa: E402
from tests.factories import Factory  # noqa: E402

BENCH_DATABASE = "itsm_bench_fuzz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50, help="per operation and mode")
    parser.add_argument("--roles", default="admin,requester")
    parser.add_argument("--only", default="", help="operations whose label contains this")
    parser.add_argument("--derandomize", action="store_true", help="the CI test's cases")
    arguments = parser.parse_args()

    url = scratch_database(BENCH_DATABASE)
    upgrade(url)
    os.environ["ITSM_DATABASE_URL"] = url
    logging.disable(logging.WARNING)  # the app logs every refused request at INFO and up
    from operational.main import create_app

    engine = create_engine(url, poolclass=pool.NullPool)
    connection = engine.connect()
    connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    factory = Factory(session)
    team = factory.team(name="Service Desk")
    agent = factory.user(roles=("agent",), teams=(team,))
    users = {role: factory.user(roles=(role,)) for role in arguments.roles.split(",")}
    users.setdefault("admin", factory.user(roles=("admin",)))
    users.setdefault("requester", factory.user(roles=("requester",)))
    app = create_app()
    keep = fuzzing.isolated(app, session)
    headers = {role: factory.auth_headers(user) for role, user in users.items()}
    ids = {"team": team.id, "agent": agent.id, "requester": users["requester"].id}
    with TestClient(app, raise_server_exceptions=False) as client, keep():
        fuzzing.seed(client, headers["admin"], headers["requester"], ids)

    print(
        f"{arguments.examples} cases per operation and mode, "
        f"{'derandomized' if arguments.derandomize else 'random'}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    started, total, failed = time.perf_counter(), 0, 0
    for role in arguments.roles.split(","):
        report = fuzzing.campaign(
            app,
            role=role,
            headers=headers[role],
            examples=arguments.examples,
            derandomize=arguments.derandomize,
            operation_filter=lambda label: arguments.only in label,
        )
        print(report.summary(), flush=True)
        total += report.cases
        failed += report.failure_count() + report.server_errors
    elapsed = time.perf_counter() - started
    print(f"total: {total:,} cases in {elapsed:.1f} s; failures: {failed}")
    session.close()
    connection.close()
    engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
