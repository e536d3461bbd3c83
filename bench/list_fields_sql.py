"""What PostgreSQL spends on a list page's JSON (operational/incidents/reads.py), whole items
against ``fields=``: the statement that writes page 3 of 25 (default sort) run N times on one
connection (prepared after the first few, as in the server), against the database of ITSM_HOME
(or ITSM_DATABASE_URL). It prints ms per statement, wall and the backend's CPU (from /proc: run
it on the database's machine). No asserts: the figures are for people.

Run: python bench/list_fields_sql.py [N] [FIELDS ...] (default: the whole item, then
``id,number,title,state,priority``).
"""

import os
import sys
import time

os.environ["ITSM_RUN_WORKER"] = "false"

PAGE_SIZE, PAGE = 25, 3


def _backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    from sqlalchemy import select

    from operational.core.db import session_scope
    from operational.incidents import reads, service
    from operational.incidents.models import Incident

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    choices: list[tuple[str, ...] | None] = [
        None if text == "all" else tuple(name for name in reads.FIELDS if name in text.split(","))
        for text in (sys.argv[2:] or ["all", "id,number,title,state,priority"])
    ]
    with session_scope() as session:
        ids = list(
            session.scalars(
                select(Incident.id)
                .order_by(*service.DEFAULT_SORT)
                .limit(PAGE_SIZE)
                .offset((PAGE - 1) * PAGE_SIZE)
            )
        )
        connection = session.connection()
        backend = connection.exec_driver_sql("select pg_backend_pid()").scalar()
        for only in choices:
            statement = reads._of_ids(only)
            for _ in range(20):  # prepared from the sixth run on
                connection.exec_driver_sql(statement, {"ids": ids}).all()
            cpu, began = _backend_cpu(backend), time.perf_counter()
            for _ in range(count):
                connection.exec_driver_sql(statement, {"ids": ids}).all()
            wall = time.perf_counter() - began
            used = _backend_cpu(backend) - cpu
            print(
                f"{'whole items' if only is None else ','.join(only)}: "
                f"{1000 * wall / count:.3f} ms wall, {1000 * used / count:.3f} ms backend CPU"
                " per statement"
            )


if __name__ == "__main__":
    main()
