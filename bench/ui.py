"""First paint of the agent's queue in a real browser (issue 19: under one second with 100,000
incidents).

Run: python bench/ui.py [--url http://127.0.0.1:8000] [--runs 10]
against a running ``itsm serve`` whose database ITSM_HOME (or ITSM_DATABASE_URL) points at, e.g.
after ``itsm demo --incidents 100000 --no-serve``. It signs in through the sign-in page as an
agent of its own (``bench-ui-agent@example.com``, made on first use and put in the team that has
the most open incidents), then opens the team queue (25 rows, sorted by priority, each with its
SLA clock) in Debian's Chromium, headless, and reads the browser's own paint timings. Each run is
a fresh navigation; the first is a warm-up. No asserts: the figures are for people.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

if not __package__:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

EMAIL = "bench-ui-agent@example.com"
PASSWORD = "bench-ui-agent-passphrase-2026"


def _agent() -> tuple[int, int, int]:
    """The bench agent's team (the one with most open incidents), how many incidents it holds,
    and how many there are."""
    from sqlalchemy import func, select

    from operational.auth import service as auth_service  # noqa: F401 (auth cache hooks)
    from operational.auth.models import TeamMember, User, UserRole
    from operational.auth.security import hash_secret
    from operational.core.db import session_scope
    from operational.incidents.models import Incident

    with session_scope() as session:
        open_states = ("new", "assigned", "in_progress", "on_hold")
        team_id, held = session.execute(
            select(Incident.assignment_group_id, func.count())
            .where(Incident.state.in_(open_states), Incident.assignment_group_id.is_not(None))
            .group_by(Incident.assignment_group_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        total = session.scalar(select(func.count()).select_from(Incident)) or 0
        held = (
            session.scalar(select(func.count()).where(Incident.assignment_group_id == team_id)) or 0
        )
        user = session.scalar(select(User).where(User.email == EMAIL))
        if user is None:
            user = User(
                email=EMAIL,
                display_name="Bench UI agent",
                password_hash=hash_secret(PASSWORD),
                role_rows=[UserRole(role="agent")],
            )
            session.add(user)
            session.flush()
        member = session.get(TeamMember, {"team_id": team_id, "user_id": user.id})
        if member is None:
            session.add(TeamMember(team_id=team_id, user_id=user.id))
        return team_id, held, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from tests.dashboards import browser

    team_id, held, total = _agent()
    print(f"{total:,} incidents; the bench agent's team {team_id} holds {held:,}")
    # Every state (all=1), newest first: the team's whole share of the table, not only the few
    # open ones a demo year leaves.
    queue = f"{args.url}/ui/queue?scope=team&team={team_id}&all=1&sort=-opened_at"
    paints, loads = [], []
    with browser.chromium() as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{args.url}/ui/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        for run in range(args.runs + 1):
            page.goto(queue, wait_until="load")
            timings = page.evaluate(
                """async () => {
                    // The paint entry may come after the load event: wait for it (5 s at most).
                    const paint = await new Promise((resolve) => {
                        const observer = new PerformanceObserver((list) => {
                            const fcp = list.getEntriesByName('first-contentful-paint')[0];
                            if (fcp) resolve(fcp.startTime);
                        });
                        observer.observe({type: 'paint', buffered: true});
                        setTimeout(() => resolve(null), 5000);
                    });
                    const nav = performance.getEntriesByType('navigation')[0];
                    return {paint, response: nav.responseStart, load: nav.loadEventEnd,
                            rows: document.querySelectorAll('#queue tbody tr a').length,
                            title: document.title,
                            error: (document.querySelector('.error') || {}).innerText || null};
                }"""
            )
            if run == 0:
                print(f"warm-up: {timings}")
                continue
            paints.append(timings["paint"])
            loads.append(timings["response"])
            print(
                f"run {run}: first contentful paint {timings['paint']:.0f} ms "
                f"(server answered after {timings['response']:.0f} ms; {timings['rows']} rows; "
                f"{timings['title']}{'; ' + timings['error'] if timings['error'] else ''})"
            )
        context.close()
    print(
        f"first contentful paint: median {statistics.median(paints):.0f} ms, "
        f"max {max(paints):.0f} ms over {len(paints)} runs; "
        f"time to first byte: median {statistics.median(loads):.0f} ms"
    )


if __name__ == "__main__":
    main()
