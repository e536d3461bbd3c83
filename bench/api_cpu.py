"""CPU time per request of a running HTTP service and of its PostgreSQL server, under wrk.

On a shared machine req/s swings with the neighbours' load, but the CPU a request costs the
server's processes does not (much): it is what bounds req/s on a given number of cores. This
reads utime + stime of the server's process tree and of the database's (from /proc) before and
after a wrk run, and divides by the requests wrk completed.

Run, for one scenario:
    python bench/api_cpu.py --name "ours GET by id" --server-pid PID --pgdata DIR \\
        --script get.lua -c 10 --seconds 15 URL
where PID is the server's master process (``itsm serve``, uvicorn or gunicorn: its workers are
its children) and DIR the database's data folder (its ``postmaster.pid`` names the server; its
client backends are counted, not its own processes such as autovacuum or the checkpointer).
``--header`` adds a request header (for plain URLs without a script).
Linux only; no asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of ``root`` and every descendant, plus what its reaped children used."""
    tree = _children()
    total = 0.0
    pending = [root]
    while pending:
        pid = pending.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        # Fields 14-17 of /proc/PID/stat (here from index 11): utime, stime, cutime, cstime.
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        pending.extend(tree.get(pid, []))
    return total / TICKS


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


# PostgreSQL's own processes, whose work is not the requests' (autovacuum after a big load, the
# checkpointer): left out of the database's figure.
_BACKGROUND = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum",
    "logical replication",
    "io worker",
    "archiver",
    "startup",
    "wal",
)


def backends_cpu(postmaster: int) -> dict[int, float]:
    """CPU seconds (utime + stime) of each client backend (and parallel worker) of the server."""
    found = {}
    for pid in _children().get(postmaster, []):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        role = title.removeprefix("postgres: ").strip()
        if any(role.startswith(name) for name in _BACKGROUND):
            continue
        if (fields := _stat(pid)) is not None:
            found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def run(
    *,
    name: str,
    url: str,
    server_pid: int,
    pgdata: Path | None,
    connections: int,
    seconds: int,
    script: str | None = None,
    headers: list[str] = (),
    script_args: list[str] = (),
) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", script]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    database = postmaster_pid(pgdata) if pgdata else None
    server_before = tree_cpu_seconds(server_pid)
    database_before = backends_cpu(database) if database else {}
    output = subprocess.run(command, capture_output=True, text=True).stdout
    server_used = tree_cpu_seconds(server_pid) - server_before
    database_used = _used(database_before, backends_cpu(database)) if database else 0.0
    done = re.search(r"(\d+) requests in", output)
    requests = int(done.group(1)) if done else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    per = 1000.0 / requests if requests else float("nan")
    figures = {
        "requests": requests,
        "server_ms": server_used * per,
        "database_ms": database_used * per,
        "total_ms": (server_used + database_used) * per,
        "rate": float(rate.group(1)) if rate else 0.0,
    }
    print(
        f"{name:<34} {requests:>7} req  server {figures['server_ms']:6.2f} ms/req  "
        f"db {figures['database_ms']:5.2f} ms/req  total {figures['total_ms']:6.2f} ms/req  "
        f"({figures['rate']:.0f} req/s, non-2xx {errors.group(1) if errors else 0})",
        flush=True,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--name", default="scenario")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--pgdata", type=Path)
    parser.add_argument("-c", "--connections", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--script")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("script_args", nargs="*", help="After --: arguments for the script")
    args = parser.parse_args()
    run(
        name=args.name,
        url=args.url,
        server_pid=args.server_pid,
        pgdata=args.pgdata,
        connections=args.connections,
        seconds=args.seconds,
        script=args.script,
        headers=args.header,
        script_args=args.script_args,
    )


if __name__ == "__main__":
    sys.exit(main())
