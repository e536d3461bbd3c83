"""Flat to 1,000,000 incidents: the API's reads at two sizes, side by side (issue 14).

1. ``python bench/flat.py load --incidents 100000 --database itsm_100k`` generates a ServiceNow
   audit export of about that many incidents and loads it through ingest (SLA timers included)
   into a fresh database of that name on the server of ITSM_DATABASE_URL, as ``bench/marts.py``
   does, then VACUUM (ANALYZE). About 7 minutes for 100,000 on this machine when busy.
2. ``python bench/flat.py grow --source itsm_100k --database itsm_1m --factor 11`` copies it and
   repeats its incidents and timers, each copy earlier by the history's span (about 4 minutes
   for 1,048,839 incidents; loading that many through ingest takes about an hour here).
   ``python bench/flat.py custom-fields --database NAME`` (optional, on both) defines the docs'
   custom fields ``site`` and ``cost`` and gives every incident a value of each.
3. ``python bench/flat.py run --databases itsm_100k itsm_1m [--seconds 5] [--rounds 3]`` starts
   ``itsm serve --workers 2``'s app (``ITSM_RUN_WORKER=false``) on each database (ports 8022, 8023,
   ...: ``--port``), signs in as an agent (``bench/api.py``'s), and runs each scenario under wrk
   (10 connections) against each size in turn, round after round, so that the neighbours'
   load weighs on both alike. Per scenario and size: req/s, p50 and p99, and the CPU a request
   costs the server's processes plus that database's backends (from /proc, as
   ``bench/api_cpu.py`` does); then a table of the medians over the rounds and the ratios of
   the last size to the first.

Scenarios: reads by id (random ids over the whole range), the first page of the default sort,
its keyset page 2, a keyset page halfway down, page 3 by number, and the filtered lists
``docs/incidents.md`` shows (state, priority, team, and full-text search: for an incident's
number, for words best match first, for words with a state and a sort; ``cf.site`` with and
without ``sort=-cf.cost`` when the custom fields are there); ``--only TEXT`` picks some. Drop
the databases after (``dropdb``). No asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

if not __package__:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import psycopg
from sqlalchemy.engine import make_url

from bench.api_cpu import tree_cpu_seconds
from bench.marts import generate_and_load, vacuum_analyze
from bench.scratch import scratch_database
from operational.core.db import libpq_url
from operational.core.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
GET_RANDOM = """
local maxid = %(max_id)d
function request()
  return wrk.format("GET", "/api/v1/incidents/" .. math.random(1, maxid),
    {["Authorization"] = "Bearer %(token)s"})
end
"""


def load_size(*, database: str, incidents: int) -> None:
    url = scratch_database(database)
    upgrade(url)
    with tempfile.TemporaryDirectory(prefix="itsm-flat-") as scratch:
        figures = generate_and_load(
            Path(scratch) / "history.csv",
            url,
            incidents=incidents,
            seed=7,
            # One incident every ~7 minutes, ending now: both sizes end at today.
            start=datetime.now() - timedelta(minutes=7 * incidents),
            offset=0,
        )
    started = time.perf_counter()
    vacuum_analyze(url)
    print(
        f"{database}: {figures['incidents']:,.0f} incidents / {figures['events']:,.0f} events;"
        f" generated {figures['generate_s']:.0f} s, parsed {figures['parse_s']:.0f} s,"
        f" loaded {figures['load_s']:.0f} s, vacuum analyze {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def grow(*, source: str, database: str, factor: int) -> None:
    """``database``: a copy of ``source`` with its incidents and their SLA timers repeated
    ``factor`` times, each copy earlier by the span of the source's history (so the newest are
    the source's own, and the open ones stay the newest): ids, numbers and external ids shifted,
    every timestamp moved back. The event log is not copied (the reads measured here do not
    read it). Loading a million incidents through ingest takes about an hour on this machine
    when it is busy; this takes minutes."""
    server = database_url("postgres")
    with psycopg.connect(libpq_url(server), autocommit=True) as connection:
        connection.execute(f'drop database if exists "{database}" with (force)')
        connection.execute(f'create database "{database}" template "{source}"')
    url = database_url(database)
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        started = time.perf_counter()
        columns = connection.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'operational' and table_name = %s and is_generated = 'NEVER'"
            " order by ordinal_position",
            ("incidents",),
        ).fetchall()
        timer_columns = connection.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'operational' and table_name = %s order by ordinal_position",
            ("sla_timers",),
        ).fetchall()
        last, first_opened, last_opened, last_timer = connection.execute(
            "select max(id), min(opened_at), max(opened_at),"
            " (select max(id) from operational.sla_timers) from operational.incidents"
        ).fetchone()
        span = last_opened - first_opened
        shifted = {
            "id": "id + {offset}",
            "number": "'INC' || lpad((substr(number, 4)::bigint + {offset})::text, 8, '0')",
            "external_id": "external_id || '-' || {copy}",
        }

        def select(table_columns, special):
            parts = []
            for name, kind in table_columns:
                if name in special:
                    parts.append(special[name])
                elif kind.startswith("timestamp"):
                    parts.append(f"{name} - {{copy}} * %(span)s::interval")
                else:
                    parts.append(name)
            return ", ".join(parts)

        incident_select = select(columns, shifted)
        timer_select = select(
            timer_columns, {"id": "id + {timer_offset}", "incident_id": "incident_id + {offset}"}
        )
        names = ", ".join(name for name, _ in columns)
        timer_names = ", ".join(name for name, _ in timer_columns)
        for copy in range(1, factor):
            values = {"offset": copy * last, "copy": copy, "timer_offset": copy * last_timer}
            connection.execute(
                f"insert into operational.incidents ({names}) select"
                f" {incident_select.format(**values)} from operational.incidents"
                f" where id <= {last}",
                {"span": span},
            )
            connection.execute(
                f"insert into operational.sla_timers ({timer_names}) select"
                f" {timer_select.format(**values)} from operational.sla_timers"
                f" where id <= {last_timer}",
                {"span": span},
            )
            print(f"  copy {copy}: {time.perf_counter() - started:.0f} s", flush=True)
        for sequence, table in (
            ("incidents_id_seq", "incidents"),
            ("sla_timers_id_seq", "sla_timers"),
        ):
            top = f"(select max(id) from operational.{table})"
            connection.execute(f"select setval('operational.{sequence}', {top})")
        connection.execute("vacuum (analyze) operational.incidents")
        connection.execute("vacuum (analyze) operational.sla_timers")
        count = connection.execute("select count(*) from operational.incidents").fetchone()[0]
    print(f"{database}: {count:,} incidents in {time.perf_counter() - started:.0f} s", flush=True)


SITES = (
    "Rotterdam",
    "Delft",
    "Utrecht",
    "Leiden",
    "Haarlem",
    "Breda",
    "Gouda",
    "Zwolle",
    "Arnhem",
    "Assen",
)


def add_custom_fields(*, database: str) -> None:
    """The docs' custom fields on every incident: ``site`` (a choice of 10) and ``cost``."""
    started = time.perf_counter()
    with psycopg.connect(libpq_url(database_url(database)), autocommit=True) as connection:
        connection.execute(
            "insert into operational.custom_field_definitions"
            " (record_type, name, label, type, allowed_values) values"
            " ('incident', 'site', 'Site', 'choice', %s::jsonb),"
            " ('incident', 'cost', 'Cost', 'number', '[]'::jsonb)"
            " on conflict do nothing",
            (json.dumps(SITES),),
        )
        connection.execute(
            "update operational.incidents set custom_fields = jsonb_build_object("
            " 'site', (%s::text[])[1 + id %% 10], 'cost', (id * 7919) %% 1000)",
            (list(SITES),),
        )
        connection.execute("vacuum (analyze) operational.incidents")
    print(f"{database}: custom fields in {time.perf_counter() - started:.0f} s", flush=True)


def database_url(database: str) -> str:
    server = os.environ.get("ITSM_DATABASE_URL")
    if not server:
        raise SystemExit("Set ITSM_DATABASE_URL to the server's URL (any database on it).")
    return make_url(server).set(database=database).render_as_string(hide_password=False)


def _token(url: str) -> str:
    """An agent's token on that database (made by ``bench/api.py``, in a process of its own:
    the settings are per process)."""
    code = "from bench.api import _token; print(_token())"
    environment = {**os.environ, "ITSM_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout.strip().splitlines()[-1]


def _get(base: str, path: str, token: str) -> dict:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


class Size:
    """One database and the ``itsm serve`` in front of it."""

    def __init__(self, database: str, port: int, workers: int) -> None:
        self.database = database
        self.url = database_url(database)
        self.base = f"http://127.0.0.1:{port}"
        with psycopg.connect(libpq_url(self.url)) as connection:
            self.max_id, backend = connection.execute(
                "select max(id), pg_backend_pid() from operational.incidents"
            ).fetchone()
            # A team with a middling share of the incidents: the docs' "assignment_group_id".
            self.team = connection.execute(
                "select assignment_group_id from operational.incidents"
                " where assignment_group_id is not null"
                " group by 1 order by count(*) desc limit 1"
            ).fetchone()[0]
            self.custom_fields = connection.execute(
                "select count(*) = 2 from operational.custom_field_definitions"
                " where record_type = 'incident' and name in ('site', 'cost')"
            ).fetchone()[0]
            # The server's postmaster: this backend's parent (read while it lives).
            stat = Path(f"/proc/{backend}/stat").read_text()
            self.postmaster = int(stat[stat.rindex(")") + 2 :].split()[1])
            # A cursor halfway down the default sort: a keyset page deep in the history.
            opened_at, middle = connection.execute(
                "select opened_at, id from operational.incidents order by opened_at desc, id desc"
                " offset (select count(*) / 2 from operational.incidents) limit 1"
            ).fetchone()
        cursor = json.dumps([opened_at.isoformat(), middle]).encode()
        self.middle_cursor = base64.urlsafe_b64encode(cursor).decode().rstrip("=")
        environment = {**os.environ, "ITSM_DATABASE_URL": self.url, "ITSM_RUN_WORKER": "false"}
        self.log = open(f"/tmp/flat-serve-{port}.log", "w")  # noqa: SIM115 (closed in stop)
        self.server = subprocess.Popen(
            [sys.executable, "-c", SERVE % {"port": port, "workers": workers}],
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait(self) -> None:
        for _ in range(120):
            if self.server.poll() is not None:
                break  # e.g. its port is taken: another server's answers would mislead
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2).close()
                return
            except OSError:
                time.sleep(1)
        raise SystemExit(
            f"itsm serve on {self.database} did not start (exit code {self.server.poll()}):"
            f" see {self.log.name}"
        )

    def backends_cpu(self) -> dict[int, float]:
        """CPU seconds of this database's client backends."""
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            # "postgres: [cluster:] USER DATABASE HOST(PORT) STATE"
            words = title.split()
            if int(fields[1]) == self.postmaster and self.database in words[1:4]:
                found[int(entry)] = (int(fields[11]) + int(fields[12])) / TICKS
        return found

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=30)
        self.log.close()


TICKS = os.sysconf("SC_CLK_TCK")
# What ``itsm serve --workers N`` runs, with a longer worker health check: on a machine as
# loaded as this one a worker can take more than uvicorn's 5 s to start, and is then restarted
# again and again.
SERVE = """
import uvicorn
uvicorn.run("operational.main:create_served_app", factory=True, host="127.0.0.1",
            port=%(port)d, workers=%(workers)d, log_config=None, timeout_worker_healthcheck=60)
"""


def _duration_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def measure(size: Size, path: str | None, lua: str, *, seconds: int, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    command += ["-s", script.name, size.base + (path or "")]
    server_before = tree_cpu_seconds(size.server.pid)
    database_before = size.backends_cpu()
    output = subprocess.run(command, capture_output=True, text=True).stdout
    server_used = tree_cpu_seconds(size.server.pid) - server_before
    database_used = sum(
        used - database_before.get(pid, 0.0) for pid, used in size.backends_cpu().items()
    )
    os.unlink(script.name)
    done = re.search(r"(\d+) requests in", output)
    requests = int(done.group(1)) if done else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    return {
        "rate": requests / seconds,
        "p50": _duration_ms(p50.group(1)) if p50 else float("nan"),
        "p99": _duration_ms(p99.group(1)) if p99 else float("nan"),
        "cpu": (server_used + database_used) * 1000 / requests if requests else float("nan"),
        "db": database_used * 1000 / requests if requests else float("nan"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def scenarios(size: Size, token: str, only: list[str]) -> list[tuple[str, str | None, str]]:
    """(name, path, wrk script) of each scenario on this size."""
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    first = _get(size.base, "/api/v1/incidents?size=25", token)
    found = [
        ("GET by id (random)", None, GET_RANDOM % {"max_id": size.max_id, "token": token}),
        ("first page (default sort)", "/api/v1/incidents?size=25", auth),
        ("keyset page 2", f"/api/v1/incidents?size=25&after={first['next_after']}", auth),
        (
            "keyset, halfway down (after=)",
            f"/api/v1/incidents?size=25&after={size.middle_cursor}",
            auth,
        ),
        ("page 3 by number", "/api/v1/incidents?size=25&page=3", auth),
        ("state=new", "/api/v1/incidents?state=new&size=25", auth),
        ("state=resolved", "/api/v1/incidents?state=resolved&size=25", auth),
        ("priority=1", "/api/v1/incidents?priority=1&size=25", auth),
        (
            "assignment_group_id",
            f"/api/v1/incidents?assignment_group_id={size.team}&size=25",
            auth,
        ),
        ("q= a number (one match)", "/api/v1/incidents?q=INC0050000&size=25", auth),
        ("q= words (best match)", f"/api/v1/incidents?q={SEARCH}&size=25", auth),
        (
            "q= state=resolved sort=-priority",
            f"/api/v1/incidents?q={SEARCH}&state=resolved&sort=-priority&size=50",
            auth,
        ),
    ]
    if size.custom_fields:  # after ``flat.py custom-fields``: the docs' filters on them
        sites = "/api/v1/incidents?cf.site=Rotterdam&cf.site=Delft&size=25"
        found += [
            ("cf.site=Rotterdam&cf.site=Delft", sites, auth),
            ("cf.site= ... &sort=-cf.cost", f"{sites}&sort=-cf.cost", auth),
        ]
    return [scenario for scenario in found if not only or any(o in scenario[0] for o in only)]


# Words of one title in 500 ("Symptom 42"): their matches grow with the history (197 of
# 95,349 incidents, 2,167 of 1,048,839), as a word's do; a number's stay one.
SEARCH = "%22symptom+42%22"


def run(
    databases: list[str], *, seconds: int, rounds: int, workers: int, port: int, only: list[str]
) -> None:
    sizes: list[Size] = []
    try:
        for index, database in enumerate(databases):
            sizes.append(Size(database, port + index, workers))
        for size in sizes:
            size.wait()
        plans = {}
        for size in sizes:
            plans[size.database] = scenarios(size, _token(size.url), only)
            for _name, path, lua in plans[size.database]:  # warm the caches and the plans
                measure(size, path, lua, seconds=1, connections=2)
        results: dict[tuple[str, str], list[dict]] = {}
        for round_number in range(1, rounds + 1):
            for index in range(len(plans[databases[0]])):
                for size in sizes if round_number % 2 else reversed(sizes):
                    name, path, lua = plans[size.database][index]
                    found = measure(size, path, lua, seconds=seconds, connections=10)
                    results.setdefault((name, size.database), []).append(found)
                    print(
                        f"round {round_number} {name:<34} {size.database:<10}"
                        f" {found['rate']:7.1f} req/s  p50 {found['p50']:7.1f} ms"
                        f"  p99 {found['p99']:7.1f} ms  cpu {found['cpu']:6.2f} ms"
                        f" (db {found['db']:5.2f})  non-2xx {found['errors']}",
                        flush=True,
                    )
    finally:
        for size in sizes:
            size.stop()
    print_table(databases, [name for name, _path, _lua in plans[databases[0]]], results)


def print_table(databases: list[str], names: list[str], results: dict) -> None:
    first, last = databases[0], databases[-1]
    print(
        f"\nmedians over the rounds, 10 connections; ratio = {last} / {first}"
        " (CPU and p50: above 1 is slower; req/s: below 1 is slower)\n"
    )
    header = ["scenario"]
    for database in databases:
        header += [f"{database} req/s", "p50 ms", "p99 ms", "CPU ms/req"]
    header += ["req/s ratio", "p50 ratio", "CPU ratio"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in names:
        row = [name]
        medians = {}
        for database in databases:
            runs = results[(name, database)]
            medians[database] = {
                key: statistics.median(run[key] for run in runs)
                for key in ("rate", "p50", "p99", "cpu")
            }
            found = medians[database]
            row += [
                f"{found['rate']:.0f}",
                f"{found['p50']:.1f}",
                f"{found['p99']:.1f}",
                f"{found['cpu']:.2f}",
            ]
        for key in ("rate", "p50", "cpu"):
            row.append(f"{medians[last][key] / medians[first][key]:.2f}")
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="Load a database of N incidents.")
    load.add_argument("--incidents", type=int, required=True)
    load.add_argument("--database", required=True)
    copies = commands.add_parser(
        "grow", help="Copy a loaded database, its incidents repeated (minutes, not an hour)."
    )
    copies.add_argument("--source", required=True)
    copies.add_argument("--database", required=True)
    copies.add_argument("--factor", type=int, default=10)
    fields = commands.add_parser("custom-fields", help="Give every incident a site and a cost.")
    fields.add_argument("--database", required=True)
    compare = commands.add_parser("run", help="Measure the scenarios on each database.")
    compare.add_argument("--databases", nargs="+", required=True, help="Smallest first.")
    compare.add_argument("--seconds", type=int, default=5)
    compare.add_argument("--rounds", type=int, default=3)
    compare.add_argument("--workers", type=int, default=2)
    compare.add_argument("--port", type=int, default=8022)
    compare.add_argument(
        "--only", action="append", default=[], help="Scenarios whose name holds this text."
    )
    arguments = parser.parse_args()
    if arguments.command == "load":
        load_size(database=arguments.database, incidents=arguments.incidents)
    elif arguments.command == "custom-fields":
        add_custom_fields(database=arguments.database)
    elif arguments.command == "grow":
        grow(source=arguments.source, database=arguments.database, factor=arguments.factor)
    else:
        run(
            arguments.databases,
            seconds=arguments.seconds,
            rounds=arguments.rounds,
            workers=arguments.workers,
            port=arguments.port,
            only=arguments.only,
        )


if __name__ == "__main__":
    main()
