"""Speed of the dashboards: every page, cold, in headless Chromium, over the benchmark marts.

It reads the marts that ``bench/marts.py`` built (1,000,000 incidents) in the database
``itsm_bench`` on the server of ITSM_DATABASE_URL, or the embedded one under ITSM_HOME; give
``--database-url`` for another. Then:

1. makes sure a manager account exists to sign in with (through the auth service);
2. starts the API (uvicorn) and ``itsm dashboards`` on free loopback ports, with the query cache
   off (ITSM_DASHBOARDS_CACHE_SECONDS=0), so that every page load reads the marts afresh;
3. signs in with Debian's chromium (Playwright, ``executable_path``; nothing is downloaded) and
   times each page from the click on its sidebar link until it has fully rendered: its heading
   is shown, the script has finished, nothing is still loading and every chart is drawn.
   *Cold*: the page is the first one opened after signing in, in a fresh browser context.
   *Later*: the pages visited again, ``--rounds`` times, in one session.

Prints, per page, the cold time and the median and worst of the later ones. Target: 1.5 s or
less per page, cold. No asserts: the figures are for people.

Run: python bench/dashboards.py [--database-url URL] [--rounds 3] [--query "?grain=month"]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from operational.auth import service as auth_service  # noqa: E402
from operational.core.config import get_settings  # noqa: E402
from operational.core.db import admin_database_url, normalize_url  # noqa: E402
from operational.exports.analyst_role import analyst_url  # noqa: E402
from tests.dashboards import browser  # noqa: E402

BENCH_DATABASE = "itsm_bench"
BENCH_EMAIL = "bench-manager@example.com"
BENCH_PASSWORD = "bench-manager-password-1"
TARGET_SECONDS = 1.5


def bench_database_url() -> str:
    server = make_url(admin_database_url(get_settings()))
    return server.set(database=BENCH_DATABASE).render_as_string(hide_password=False)


def ensure_manager(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with Session(engine) as session:
        if auth_service.get_by_email(session=session, email=BENCH_EMAIL) is None:
            auth_service.create_user(
                session=session,
                email=BENCH_EMAIL,
                password=BENCH_PASSWORD,
                roles=["manager"],
                display_name="Benchmark manager",
            )
            session.commit()
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, *, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def start(command: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, env=environment, cwd=REPOSITORY, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def signed_in_page(chromium, dashboards_url: str, query: str):
    context = chromium.new_context(viewport=browser.VIEWPORT)
    page = context.new_page()
    browser.sign_in(page, dashboards_url, email=BENCH_EMAIL, password=BENCH_PASSWORD, query=query)
    return context, page


def measure(chromium, dashboards_url: str, arguments) -> tuple[dict, dict]:
    """Cold: each page as the first one opened after signing in, in a browser context of its
    own (empty browser cache: the chart library loads too). Later: the same pages visited again
    and again in one session. Queries are never cached."""
    cold: dict[str, float] = {}
    started = time.perf_counter()
    context, page = signed_in_page(chromium, dashboards_url, arguments.query)
    print(f"first sign-in, to a rendered Overview: {time.perf_counter() - started:.2f} s")
    context.close()
    for target in browser.PAGES:
        context, page = signed_in_page(chromium, dashboards_url, arguments.query)
        if target == browser.PAGES[0]:  # the sign-in shows it: step away first
            browser.open_page(page, browser.PAGES[-1])
        cold[target.path] = browser.open_page(page, target)
        report_errors(page, target)
        context.close()
    later: dict[str, list[float]] = {target.path: [] for target in browser.PAGES}
    context, page = signed_in_page(chromium, dashboards_url, arguments.query)
    order = [*browser.PAGES[1:], browser.PAGES[0]]  # the sign-in has just shown the Overview
    for _ in range(arguments.rounds):
        for target in order:
            later[target.path].append(browser.open_page(page, target))
            report_errors(page, target)
    context.close()
    return cold, later


def report_errors(page, target) -> None:
    errors = page.locator(browser.ERROR_SELECTOR).all_inner_texts()
    if errors:
        print(f"  {target.path}: error on the page: {errors[0][:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="Database holding the benchmark marts.")
    parser.add_argument("--marts-url", help="Read-only URL for the marts (default: analyst role).")
    parser.add_argument("--rounds", type=int, default=3, help="Loads of each page.")
    parser.add_argument("--query", default="", help='URL filters, e.g. "?grain=month".')
    arguments = parser.parse_args()

    url = normalize_url(arguments.database_url or bench_database_url())
    work = Path(tempfile.mkdtemp(prefix="itsm-bench-dashboards-"))
    # ITSM_HOME's analyst password, as `itsm db analyst-url` uses: the role is server-wide.
    settings = get_settings().model_copy(update={"database_url": url})
    ensure_manager(url)
    marts_url = arguments.marts_url or analyst_url(settings)

    api_port, dashboards_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    dashboards_url = f"http://127.0.0.1:{dashboards_port}"
    environment = {
        **os.environ,
        "ITSM_DATABASE_URL": url,
        "ITSM_HOME": str(work / "home"),
        "ITSM_RUN_WORKER": "false",
        "ITSM_LOG_JSON": "false",
        "ITSM_MARTS_URL": marts_url,
        "ITSM_API_BASE_URL": api_url,
        "ITSM_DASHBOARDS_CACHE_SECONDS": "0",
    }
    api = start(
        [
            *(sys.executable, "-m", "uvicorn", "operational.main:create_app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(api_port)),
        ],
        environment,
        work / "api.log",
    )
    dashboards = start(
        [str(Path(sys.executable).with_name("itsm")), "dashboards", "--port", str(dashboards_port)],
        environment,
        work / "dashboards.log",
    )
    try:
        wait_until_up(f"{api_url}/healthz", api)
        wait_until_up(f"{dashboards_url}/_stcore/health", dashboards)
        print(
            f"marts: {make_url(url).render_as_string()}  (read as {make_url(marts_url).username})"
        )
        with browser.chromium() as chromium:
            cold, later = measure(chromium, dashboards_url, arguments)
        print(
            f"{'page':<22}{'cold':>8}{'later':>9}{'worst':>8}   (seconds; target "
            f"{TARGET_SECONDS} s cold; queries uncached)"
        )
        for target in browser.PAGES:
            loads = later[target.path]
            flag = "" if cold[target.path] <= TARGET_SECONDS else "  over target"
            print(
                f"{target.path:<22}{cold[target.path]:>8.2f}{statistics.median(loads):>9.2f}"
                f"{max(loads):>8.2f}{flag}"
            )
    finally:
        for process in (dashboards, api):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
