"""CPU per request of the API application itself: the ASGI app driven directly (no HTTP server,
no access log), 10 requests in flight, against the database of ITSM_HOME (or ITSM_DATABASE_URL).

Run: python bench/api_inprocess.py {healthz,matrix,get,list,list-lean} [N] with a token in
ITSM_BENCH_TOKEN (an agent's access token, e.g. from bench/api.py's sign-in). It prints the
process's CPU time per request and the time the garbage collector took. ``list-lean`` is the same
page as ``list`` with ``fields=id,number,title,state,priority``. When ITSM_HOME's embedded
PostgreSQL serves the database, it also prints the CPU its client backends used per request
(bench/api_cpu.py's reading of /proc). No asserts: the figures are for people.
"""

import asyncio
import gc
import os
import random
import sys
import time
from pathlib import Path

import api_cpu  # bench/api_cpu.py, beside this script

os.environ["ITSM_RUN_WORKER"] = "false"

PATHS = {
    "healthz": ("/healthz", b""),
    "matrix": ("/api/v1/incidents/priority-matrix", b""),
    "list": ("/api/v1/incidents", b"page=3&size=25"),
    "list-lean": ("/api/v1/incidents", b"page=3&size=25&fields=id,number,title,state,priority"),
}


def _postmaster() -> int | None:
    """The embedded PostgreSQL's server process under ITSM_HOME, if that is the database."""
    home = os.environ.get("ITSM_HOME")
    pgdata = Path(home) / "pgdata" if home else None
    if os.environ.get("ITSM_DATABASE_URL") or pgdata is None:
        return None
    if not (pgdata / "postmaster.pid").exists():
        return None
    return api_cpu.postmaster_pid(pgdata)


def _scope(kind: str, token: bytes, rnd: random.Random, max_id: int) -> dict:
    path, query = PATHS.get(kind, (f"/api/v1/incidents/{rnd.randint(1, max_id)}", b""))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"bench"), (b"authorization", b"Bearer " + token)],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }


async def _run(kind: str, count: int) -> None:
    from operational.auth import cache
    from operational.main import create_app

    app = create_app()
    token = os.environ["ITSM_BENCH_TOKEN"].encode()
    rnd = random.Random(1)
    statuses: dict[int, int] = {}
    startup: asyncio.Queue = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def lifespan_send(message: dict) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    lifespan = asyncio.create_task(
        app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
            startup.get,
            lifespan_send,
        )
    )
    await started.wait()
    cache.wait_until_listening(10)
    slots = asyncio.Semaphore(10)

    async def one() -> None:
        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        async with slots:
            await app(_scope(kind, token, rnd, 100_000), receive, send)

    await asyncio.gather(*(one() for _ in range(200)))  # warm: pools, prepared statements
    statuses.clear()
    collecting = {"seconds": 0.0, "since": 0.0}

    def timed(phase: str, _info: dict) -> None:
        if phase == "start":
            collecting["since"] = time.process_time()
        else:
            collecting["seconds"] += time.process_time() - collecting["since"]

    postmaster = _postmaster()
    database_before = api_cpu.backends_cpu(postmaster) if postmaster else {}
    gc.callbacks.append(timed)
    began = time.process_time()
    await asyncio.gather(*(one() for _ in range(count)))
    used = time.process_time() - began
    gc.callbacks.remove(timed)
    database = ""
    if postmaster:
        spent = api_cpu._used(database_before, api_cpu.backends_cpu(postmaster))
        database = f", database {1000 * spent / count:.3f} ms CPU/request"
    print(
        f"{kind}: {1000 * used / count:.3f} ms CPU/request"
        f" (garbage collector {1000 * collecting['seconds'] / count:.3f}){database},"
        f" statuses {statuses}"
    )
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan


if __name__ == "__main__":
    asyncio.run(
        _run(
            sys.argv[1] if len(sys.argv) > 1 else "get",
            int(sys.argv[2]) if len(sys.argv) > 2 else 3000,
        )
    )
