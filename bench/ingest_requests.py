"""Speed of importing service requests: N requests with one item, one task and one approval
each, through the generic mapping, imported cold and then again (which must load nothing).

The exports are generated (seeded) into a temporary folder: requests.csv, request_items.csv,
request_tasks.csv, request_approvals.csv, with their mappings; the items' histories are
synthesized from their timestamps. It uses a scratch database ``itsm_bench_requests`` on the
server of ITSM_DATABASE_URL, or else the embedded one. Prints the seconds of each file and the
records per second; asserts nothing.

    python -m bench.ingest_requests [--requests 10000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, pool
from sqlalchemy.orm import Session

from bench.scratch import scratch_database
from ingest import loader, sources
from operational.auth.models import Team
from operational.core.migrate import upgrade
from operational.requests import catalog
from operational.requests.schemas import CatalogItemCreate, CategoryCreate

ENTITIES = ("requests", "request_items", "request_tasks", "request_approvals")
MAPPINGS = {
    "requests": "columns: {external_id: id, requester: who, state: state, opened_at: opened, "
    "closed_at: closed}",
    "request_items": "columns: {external_id: id, request_external_id: request, "
    "catalog_item: item, state: state, opened_at: opened, approved_at: approved, "
    "delivered_at: delivered}",
    "request_tasks": "columns: {external_id: id, request_item_external_id: item, name: name, "
    "assignment_group: team, assignee: agent, state: state, opened_at: opened, "
    "closed_at: closed}",
    "request_approvals": "columns: {request_item_external_id: item, stage: stage, "
    "approver: approver, decision: decision, requested_at: asked, decided_at: decided}",
}


def write_exports(folder: Path, count: int) -> None:
    rng = random.Random(15)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows: dict[str, list[str]] = {
        "requests": ["id,who,state,opened,closed"],
        "request_items": ["id,request,item,state,opened,approved,delivered"],
        "request_tasks": ["id,item,name,team,agent,state,opened,closed"],
        "request_approvals": ["item,stage,approver,decision,asked,decided"],
    }

    def at(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    for n in range(count):
        opened = start + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        approved = opened + timedelta(minutes=rng.randrange(10, 600))
        delivered = approved + timedelta(minutes=rng.randrange(60, 4000))
        done = n % 5 != 0
        requester, manager = f"user{rng.randrange(500)}", f"manager{rng.randrange(40)}"
        rows["requests"].append(
            f"R{n},{requester},{'closed' if done else 'open'},{at(opened)},"
            f"{at(delivered) if done else ''}"
        )
        rows["request_items"].append(
            f"I{n},R{n},{rng.choice(['Laptop', 'Mouse'])},"
            f"{'delivered' if done else 'in_fulfilment'},{at(opened)},{at(approved)},"
            f"{at(delivered) if done else ''}"
        )
        rows["request_tasks"].append(
            f"T{n},I{n},Hand over,Hardware desk,agent{rng.randrange(10)},"
            f"{'closed' if done else 'open'},{at(approved)},{at(delivered) if done else ''}"
        )
        rows["request_approvals"].append(
            f"I{n},Manager,{manager},approved,{at(opened)},{at(approved)}"
        )
    for entity in ENTITIES:
        (folder / f"{entity}.csv").write_text("\n".join(rows[entity]) + "\n")
        (folder / f"{entity}.yaml").write_text(
            f"entity: {entity}\nsource_system: bench\n{MAPPINGS[entity]}\n"
        )


def make_catalog(engine) -> None:
    with Session(engine) as session:
        team = Team(name="Hardware desk")
        session.add(team)
        session.flush()
        category = catalog.create_category(session=session, data=CategoryCreate(name="Hardware"))
        for name, minutes in (("Laptop", 2400), ("Mouse", 480)):
            catalog.create_item(
                session=session,
                data=CatalogItemCreate(
                    name=name,
                    price=Decimal("10.00"),
                    delivery_minutes=minutes,
                    category_id=category.id,
                    fulfilment_team_id=team.id,
                ),
                actor=None,
            )
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    arguments = parser.parse_args()
    url = scratch_database("itsm_bench_requests")
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    make_catalog(engine)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_exports(folder, arguments.requests)
        for label in ("cold", "again (idempotent)"):
            total = 0.0
            for entity in ENTITIES:
                started = time.perf_counter()
                parsed = sources.parse(
                    "generic", folder / f"{entity}.csv", mapping=folder / f"{entity}.yaml"
                )
                parse_s = time.perf_counter() - started
                report = loader.load(parsed, engine=engine, workers=1)
                load_s = time.perf_counter() - started - parse_s
                total += parse_s + load_s
                counts = report.counts[entity]
                print(
                    f"{label:>18} {entity:<18} parse {parse_s:5.1f} s + load {load_s:6.1f} s: "
                    f"{parsed.rows_read / (parse_s + load_s):8,.0f} rows/s "
                    f"(loaded {counts.loaded:,}, updated {counts.updated:,}, "
                    f"rejected {report.rejected:,})"
                )
            print(f"{label:>18} all four files: {total:.1f} s")
    engine.dispose()


if __name__ == "__main__":
    main()
