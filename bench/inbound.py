"""Inbound: what the event log's NOTIFY trigger costs, how soon a listener hears of a commit, and
how many mails per second the intake turns into incidents.

1. Appends events with the trigger ``events_notify`` on and off (statements of 1,000 events: one
   notification each; and COPY of 100,000: one bulk notice), alternating, and prints events/s.
2. Commits single events one after the other while a LISTEN connection (what each open
   ``GET /api/v1/stream`` holds) waits: commit → notification latency, p50 and p95.
3. Receives N new mails (distinct Message-IDs, one transaction each) through
   ``ingest.mail.intake.receive``: mails/s; then the same mails again (duplicates: recorded once).

Run: python bench/inbound.py [--mails 300] [--rounds 3]
It uses a scratch database ``itsm_bench_inbound`` (dropped and re-created) on the server of
ITSM_DATABASE_URL, or else on the embedded server under ITSM_HOME. No asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg
from sqlalchemy import create_engine, pool, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database
from ingest.mail import intake
from operational.auth import service as auth_service
from operational.core.config import get_settings
from operational.core.db import libpq_url
from operational.core.migrate import upgrade
from operational.events import service as events_service

MAIL = (
    "From: Bench <bench@example.com>\r\nTo: support@itsm.example\r\n"
    "Subject: Printer {index} is jammed\r\nMessage-ID: <bench-{index}@example.com>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Paper jam in tray {index}.\r\n"
)


def _trigger(engine, enabled: bool) -> None:
    with engine.begin() as connection:
        state = "enable" if enabled else "disable"
        connection.execute(text(f"alter table operational.events {state} trigger events_notify"))


def _append_statements(engine, statements: int, per_statement: int, entity: int) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    for number in range(statements):
        rows = [
            {
                "entity_type": "incident",
                "entity_id": entity + number,
                "kind": "field_changed",
                "occurred_at": now,
            }
        ] * per_statement
        with Session(engine) as session:
            events_service.append_many(session=session, events=rows)
            session.commit()
    return statements * per_statement / (time.perf_counter() - started)


def _copy(engine, events: int, entity: int) -> float:
    now = datetime.now(UTC)
    frame = pl.DataFrame(
        {
            "entity_type": ["incident"] * events,
            "entity_id": [entity] * events,
            "seq": list(range(1, events + 1)),
            "occurred_at": [now] * events,
            "kind": ["field_changed"] * events,
        }
    )
    started = time.perf_counter()
    with Session(engine) as session:
        events_service.copy_frame(session=session, frame=frame)
        session.commit()
    return events / (time.perf_counter() - started)


def trigger_cost(engine, rounds: int) -> None:
    figures: dict[tuple[str, bool], list[float]] = {}
    entity = 1_000_000
    for _ in range(rounds):
        for enabled in (True, False):
            _trigger(engine, enabled)
            entity += 100_000
            figures.setdefault(("append_many x1,000", enabled), []).append(
                _append_statements(engine, 20, 1000, entity)
            )
            entity += 100_000
            figures.setdefault(("COPY x100,000", enabled), []).append(
                _copy(engine, 100_000, entity)
            )
    _trigger(engine, True)
    print("events/s, median of rounds (trigger on | off):")
    for kind in ("append_many x1,000", "COPY x100,000"):
        on = statistics.median(figures[(kind, True)])
        off = statistics.median(figures[(kind, False)])
        print(f"  {kind:<20} {on:>10,.0f} | {off:>10,.0f}   ({(off - on) / off:+.0%} cost)")


def notify_latency(engine, url: str, count: int = 200) -> None:
    latencies = []
    with psycopg.connect(libpq_url(url), autocommit=True) as listener:
        listener.execute("listen itsm_events")
        for number in range(count):
            with Session(engine) as session:
                events_service.append(
                    session=session,
                    entity_type="incident",
                    entity_id=5_000_000 + number,
                    kind="created",
                    actor=None,
                )
                committed = time.perf_counter()
                session.commit()
            for _notice in listener.notifies(stop_after=1, timeout=10):
                latencies.append(time.perf_counter() - committed)
    latencies.sort()
    print(
        f"commit -> notification over LISTEN ({count} commits): "
        f"p50 {latencies[len(latencies) // 2] * 1000:.2f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.2f} ms"
    )


def mail_rate(engine, mails: int) -> None:
    with Session(engine) as session:
        auth_service.create_user(
            session=session,
            email="bench@example.com",
            password="bench-password-123456",
            roles=["requester"],
        )
        session.commit()
    raws = [MAIL.format(index=index).encode() for index in range(mails)]
    # One sender opening many tickets: the loop guard (10 an hour) would ignore the rest.
    settings = get_settings().model_copy(update={"inbound_mail_loop_limit": 10**9})
    for label in ("new mails", "the same again (duplicates)"):
        started = time.perf_counter()
        outcomes: dict[str, int] = {}
        for raw in raws:
            with Session(engine) as session:
                received = intake.receive(session=session, raw=raw, settings=settings)
                session.commit()
            key = "duplicate" if received.duplicate else received.outcome.value
            outcomes[key] = outcomes.get(key, 0) + 1
        seconds = time.perf_counter() - started
        rate = mails / seconds
        print(f"{label}: {mails} in {seconds:.1f} s = {rate:,.1f} mails/s {json.dumps(outcomes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    url = scratch_database("itsm_bench_inbound")
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    trigger_cost(engine, arguments.rounds)
    notify_latency(engine, url)
    mail_rate(engine, arguments.mails)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
