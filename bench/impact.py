"""Speed of impact analysis on a large CMDB.

1. Generates a layered CMDB (default 100,000 CIs and 300,000 relationships: business services,
   services, applications, databases, servers and network devices; relationship targets follow
   a Zipf law, so a few databases and switches carry many dependants) and bulk-loads it with
   COPY.
2. Times the impact walk (the recursive CTE of ``operational.cmdb.service``) from typical and
   worst-case roots, both directions, at several depths: the full impact set
   (``impact_depths``, what risk and collision checks use) and the API's first page of 50
   with paths (``impact``).

"cold" is the first query of its kind on a new connection (no cached plan; PostgreSQL's
buffers may still hold pages from the load). "warm" is the median of 5 repeats.

Run: python bench/impact.py [--cis 100000] [--relationships 300000] [--seed 7]
It uses a scratch database ``itsm_bench_impact`` (dropped and re-created) on the server of
ITSM_DATABASE_URL, or else on the embedded server under ITSM_HOME. No asserts: the figures are
for people.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from sqlalchemy import create_engine, pool, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# The repository root, for the benchmarks' shared helpers (bench/scratch.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database
from operational.cmdb import service as cmdb_service
from operational.cmdb.enums import ImpactDirection
from operational.cmdb.models import CIClass
from operational.core.db import SCHEMA
from operational.core.migrate import upgrade
from operational.core.pagination import PageParams

BENCH_DATABASE = "itsm_bench_impact"
DEPTHS = (1, 3, 5, 10, 20)
REPEATS = 5

# Share of the CIs per class.
CLASS_SHARES = {
    "business_service": 0.005,
    "service": 0.045,
    "application": 0.20,
    "database": 0.10,
    "server": 0.50,
    "network_device": 0.15,
}
ATTRIBUTES = {
    "application": lambda name: {"version": "1.0"},
    "service": lambda name: {},
    "business_service": lambda name: {},
    "database": lambda name: {"engine": "postgresql"},
    "server": lambda name: {"hostname": name},
    "network_device": lambda name: {"device_type": "switch"},
}
# (source class, type, target class, share of the relationships). Read: source <type> target.
RELATIONSHIP_PLAN = (
    ("application", "part_of", "business_service", 0.067),
    ("service", "depends_on", "application", 0.030),
    ("application", "depends_on", "application", 0.133),
    ("application", "depends_on", "database", 0.133),
    ("application", "runs_on", "server", 0.200),
    ("database", "hosted_on", "server", 0.067),
    ("server", "connects_to", "network_device", 0.333),
    ("network_device", "connects_to", "network_device", 0.037),
)


@dataclass
class Cmdb:
    ids_by_class: dict[str, list[int]]
    names: dict[int, str]
    relationships: list[tuple[int, str, int]]


ZIPF_EXPONENT = 0.7


def generate(cis: int, relationships: int, seed: int) -> Cmdb:
    """CIs of each class, and relationships whose targets follow a Zipf law (exponent 0.7) over
    the CIs of the target class: the first database carries about 2% of the applications'
    database dependencies, the first switch about 2% of the servers; most CIs carry a few."""
    rng = random.Random(seed)
    ids_by_class: dict[str, list[int]] = {}
    names: dict[int, str] = {}
    next_id = 1
    for ci_class, share in CLASS_SHARES.items():
        count = max(int(cis * share), 2)
        ids_by_class[ci_class] = list(range(next_id, next_id + count))
        for ci_id in ids_by_class[ci_class]:
            names[ci_id] = f"{ci_class.replace('_', '-')}-{ci_id}"
        next_id += count

    seen: set[tuple[int, str, int]] = set()
    edges: list[tuple[int, str, int]] = []
    for source_class, kind, target_class, share in RELATIONSHIP_PLAN:
        wanted = int(relationships * share)
        sources, targets = ids_by_class[source_class], ids_by_class[target_class]
        weights = list(accumulate(1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(targets))))
        made = 0
        while made < wanted:
            for target in rng.choices(targets, cum_weights=weights, k=wanted - made):
                source = rng.choice(sources)
                if source == target:
                    continue
                # Applications depend only on earlier ones, so depends_on stays acyclic.
                if source_class == target_class == "application" and target > source:
                    source, target = target, source
                key = (source, kind, target)
                if key in seen:
                    continue
                seen.add(key)
                edges.append(key)
                made += 1
    return Cmdb(ids_by_class, names, edges)


def load(engine: Engine, cmdb: Cmdb) -> dict[str, float]:
    with Session(engine) as session:
        class_ids = dict(session.execute(select(CIClass.name, CIClass.id)).all())
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(
            f"copy {SCHEMA}.configuration_items "
            "(id, name, class_id, status, environment, criticality, attributes) from stdin"
        ) as copy:
            for ci_class, ids in cmdb.ids_by_class.items():
                for ci_id in ids:
                    name = cmdb.names[ci_id]
                    copy.write_row(
                        (
                            ci_id,
                            name,
                            class_ids[ci_class],
                            "in_service",
                            "production",
                            1 + ci_id % 4,
                            json.dumps(ATTRIBUTES[ci_class](name)),
                        )
                    )
        with cursor.copy(
            f"copy {SCHEMA}.ci_relationships (source_ci_id, type, target_ci_id) from stdin"
        ) as copy:
            for row in cmdb.relationships:
                copy.write_row(row)
        cursor.execute(
            f"select setval(pg_get_serial_sequence('{SCHEMA}.configuration_items', 'id'), "
            f"(select max(id) from {SCHEMA}.configuration_items))"
        )
        raw.commit()
        copied = time.perf_counter() - started
        cursor.execute(f"analyze {SCHEMA}.configuration_items")
        cursor.execute(f"analyze {SCHEMA}.ci_relationships")
        raw.commit()
    finally:
        raw.close()
    return {"copy_s": copied, "copy_and_analyze_s": time.perf_counter() - started}


def pick_roots(engine: Engine, cmdb: Cmdb) -> list[tuple[str, int, ImpactDirection]]:
    """Typical and worst-case roots: the busiest database and switch, a random application,
    a business service looking upstream."""
    busiest: dict[str, int] = {}
    with engine.connect() as connection:
        for ci_class, ci_id in connection.execute(
            text(
                f"""
                select c.name, r.target_ci_id
                  from (select target_ci_id, count(*) as n
                          from {SCHEMA}.ci_relationships
                         group by target_ci_id) r
                  join {SCHEMA}.configuration_items ci on ci.id = r.target_ci_id
                  join {SCHEMA}.ci_classes c on c.id = ci.class_id
                 where c.name in ('database', 'network_device')
                 order by r.n desc
                """
            )
        ):
            busiest.setdefault(ci_class, ci_id)
    rng = random.Random(1)
    return [
        ("application (random)", rng.choice(cmdb.ids_by_class["application"]), "downstream"),
        ("busiest database", busiest["database"], "downstream"),
        ("busiest switch", busiest["network_device"], "downstream"),
        (
            "business service (random)",
            rng.choice(cmdb.ids_by_class["business_service"]),
            "upstream",
        ),
    ]


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def measure(engine: Engine, roots) -> list[dict[str, object]]:
    rows = []
    for label, root, direction in roots:
        direction = ImpactDirection(direction)
        for depth in DEPTHS:

            def full(session: Session, root=root, direction=direction, depth=depth):
                return cmdb_service.impact_depths(
                    session=session, ci_ids=[root], direction=direction, depth=depth
                )

            def first_page(session: Session, root=root, direction=direction, depth=depth):
                return cmdb_service.impact(
                    session=session,
                    ci_id=root,
                    direction=direction,
                    depth=depth,
                    params=PageParams(page=1, size=50),
                )

            figures: dict[str, object] = {"root": label, "direction": direction.value}
            figures["depth"] = depth
            for name, call in (("set", full), ("page", first_page)):
                with Session(engine) as session:
                    session.execute(text("select 1"))  # connect outside the timing
                    cold, result = timed(lambda call=call, session=session: call(session))
                    warm = [
                        timed(lambda call=call, session=session: call(session))[0]
                        for _ in range(REPEATS)
                    ]
                figures[f"{name}_cold_ms"] = cold
                figures[f"{name}_warm_ms"] = statistics.median(warm)
                if name == "set":
                    figures["reached"] = len(result)
            rows.append(figures)
            print(
                f"{label:27} {direction.value:10} depth {depth:2}: {figures['reached']:>7} CIs | "
                f"set cold {figures['set_cold_ms']:8.1f} ms warm {figures['set_warm_ms']:8.1f} ms"
                f" | page cold {figures['page_cold_ms']:8.1f} ms warm "
                f"{figures['page_warm_ms']:8.1f} ms",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cis", type=int, default=100_000)
    parser.add_argument("--relationships", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    url = scratch_database(BENCH_DATABASE)
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        version = connection.execute(text("show server_version")).scalar()
    print(f"PostgreSQL {version}, database {BENCH_DATABASE}")

    started = time.perf_counter()
    cmdb = generate(args.cis, args.relationships, args.seed)
    generated = time.perf_counter() - started
    total_cis = sum(len(ids) for ids in cmdb.ids_by_class.values())
    print(
        f"generated {total_cis:,} CIs and {len(cmdb.relationships):,} relationships "
        f"in {generated:.1f} s"
    )
    loaded = load(engine, cmdb)
    print(
        f"COPY {loaded['copy_s']:.1f} s, with ANALYZE {loaded['copy_and_analyze_s']:.1f} s",
        flush=True,
    )
    measure(engine, pick_roots(engine, cmdb))
    engine.dispose()


if __name__ == "__main__":
    main()
