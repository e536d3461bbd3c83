"""Speed of the API as agents and integrations use it: reads by id, list pages (by number and by
keyset), creates and updates, each under wrk against a running ``itsm serve``.

Run: python bench/api.py [--url http://127.0.0.1:8000] [--seconds 15] [--max-id 100000]
With ITSM_HOME (or ITSM_DATABASE_URL) pointing at the served database, e.g. after
``itsm demo --incidents 100000 --no-serve`` and ``itsm serve``. It signs in as an agent of its own
(``bench-agent@example.com``, made on first use), so auth is the full chain. The update scenario
PATCHes open incidents, each once, with the If-Match of the version it read first. ``--only
create,update`` runs some scenarios (get, list, create, update); ``--server-pid PID`` (the ``itsm
serve`` process) and ``--pgdata DIR`` add the CPU each request cost the server and the database
(bench/api_cpu.py's reading of /proc). wrk comes from Debian (``apt-get install -y wrk``). For
the peers' figures from the same machine and minute, run ``../shared/peers/compare.sh`` right
before or after. No asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

if not __package__:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

AGENT_EMAIL = "bench-agent@example.com"

# With --server-pid (and --pgdata): the CPU each scenario cost the server's processes and the
# database's client backends, per request (bench/api_cpu.py's reading of /proc).
CPU: dict[str, object] = {}

GET_RANDOM = """
local maxid = %(max_id)d
function request()
  local headers = {["Authorization"] = "Bearer %(token)s"}
  return wrk.format("GET", "/api/v1/incidents/" .. math.random(1, maxid), headers)
end
"""
CREATE = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "Bench: mail queue stuck", "description": "Raised by bench/api.py", ' ..
  '"impact": 3, "urgency": 3}'
"""
UPDATE = """
local targets = {%(targets)s}
local n = 0
function request()
  n = n + 1
  local t = targets[((n - 1) %% #targets) + 1]
  return wrk.format("PATCH", "/api/v1/incidents/" .. t[1], {
    ["Authorization"] = "Bearer %(token)s", ["Content-Type"] = "application/json",
    ["If-Match"] = '"' .. t[2] .. '"'}, '{"urgency": ' .. (t[2] %% 3 + 1) .. '}')
end
"""


def _token() -> str:
    from sqlalchemy import select

    from operational.auth import service as auth_service  # noqa: F401 (auth cache hooks)
    from operational.auth.models import User, UserRole
    from operational.auth.security import create_access_token, hash_secret
    from operational.core.db import session_scope

    with session_scope() as session:
        user = session.scalar(select(User).where(User.email == AGENT_EMAIL))
        if user is None:
            user = User(
                email=AGENT_EMAIL,
                display_name="Bench agent",
                password_hash=hash_secret("bench-agent-passphrase-2026"),
                role_rows=[UserRole(role="agent")],
            )
            session.add(user)
            session.flush()
        return create_access_token(user_id=user.id)


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _cpu_now() -> tuple[float, dict[int, float]] | None:
    if not CPU:
        return None
    from bench import api_cpu

    database = CPU.get("postmaster")
    return api_cpu.tree_cpu_seconds(CPU["server"]), (
        api_cpu.backends_cpu(database) if database else {}
    )


def _cpu_since(before: tuple[float, dict[int, float]] | None, output: str) -> str:
    if before is None:
        return ""
    from bench import api_cpu

    done = re.search(r"(\d+) requests in", output)
    requests = int(done.group(1)) if done else 0
    if not requests:
        return ""
    database = CPU.get("postmaster")
    server = api_cpu.tree_cpu_seconds(CPU["server"]) - before[0]
    backends = api_cpu._used(before[1], api_cpu.backends_cpu(database)) if database else 0.0
    return f"  CPU ms/req server {1000 * server / requests:.2f} db {1000 * backends / requests:.2f}"


def _wrk(name: str, url: str, seconds: int, connections: int, script: str | None = None) -> str:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    if script:
        command += ["-s", lua.name]
    measured = _cpu_now()
    output = subprocess.run([*command, url], capture_output=True, text=True).stdout
    cpu = _cpu_since(measured, output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"timeout (\d+)", output)
    found = [match.group(1) if match else "?" for match in (rate, p50, p99)]
    line = (
        f"{name:<34}{found[0]:>9} req/s  p50 {found[1]:<9} p99 {found[2]:<9}"
        f" non-2xx {errors.group(1) if errors else 0}"
        f"  timeouts {timeouts.group(1) if timeouts else 0}{cpu}"
    )
    print(line, flush=True)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--max-id", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=3000, help="Open incidents to update.")
    parser.add_argument(
        "--only",
        default="",
        help="Comma-separated scenarios to run (get, list, create, update); default: all.",
    )
    parser.add_argument("--server-pid", type=int, help="itsm serve's process: report CPU.")
    parser.add_argument("--pgdata", type=Path, help="The database's data folder: its CPU too.")
    args = parser.parse_args()
    if args.server_pid:
        from bench import api_cpu

        CPU["server"] = args.server_pid
        if args.pgdata:
            CPU["postmaster"] = api_cpu.postmaster_pid(args.pgdata)
    only = set(filter(None, args.only.split(",")))

    def wanted(scenario: str) -> bool:
        return not only or scenario in only

    token = _token()
    base = args.url.rstrip("/")
    values = {"token": token, "max_id": args.max_id}
    if wanted("get"):
        for connections in (10, 100):
            _wrk(f"GET by id, c{connections}", base, args.seconds, connections, GET_RANDOM % values)
    if wanted("list"):
        _lists(base, token, args.seconds)
    if wanted("create"):
        _wrk("create, c10", f"{base}/api/v1/incidents", args.seconds, 10, CREATE % values)
    if wanted("update"):
        _update(base, token, args, values)


def _lists(base: str, token: str, seconds: int) -> None:
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    _wrk("list page 3, c10", f"{base}/api/v1/incidents?page=3&size=25", seconds, 10, auth)
    first = _get(f"{base}/api/v1/incidents?size=25", token)
    deep = _get(f"{base}/api/v1/incidents?size=25&page=2000", token)
    print(f"  (total {first['total']:,}, estimated: {first.get('total_is_estimate')})")
    if first.get("next_after"):
        after = f"{base}/api/v1/incidents?size=25&after={first['next_after']}"
        _wrk("list by keyset (page 2), c10", after, seconds, 10, auth)
    if deep["items"]:
        _wrk(
            "list page 2,000, c10",
            f"{base}/api/v1/incidents?size=25&page=2000",
            seconds,
            10,
            auth,
        )
    _wrk(
        "list filtered (state=new), c10",
        f"{base}/api/v1/incidents?state=new&size=25",
        seconds,
        10,
        auth,
    )


def _update(base: str, token: str, args: argparse.Namespace, values: dict) -> None:
    """PATCH open incidents, each once, with the If-Match of the version read first."""
    targets: list[tuple[int, int]] = []
    page = 1
    while len(targets) < args.updates:
        found = _get(
            f"{base}/api/v1/incidents?state=new&state=in_progress&size=500&page={page}", token
        )
        targets += [(item["id"], item["version"]) for item in found["items"]]
        if len(found["items"]) < 500:
            break
        page += 1
    if targets:
        listed = ", ".join(f"{{{i}, {v}}}" for i, v in targets[: args.updates])
        _wrk(
            "update (PATCH, If-Match), c10",
            base,
            args.seconds,
            10,
            UPDATE % {**values, "targets": listed},
        )


if __name__ == "__main__":
    main()
