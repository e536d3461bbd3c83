"""Speed of knowledge search and suggestions at scale.

1. Generates a knowledge base (default 100,000 published articles, 90 % English, 5 % German,
   5 % Dutch, titles and bodies drawn from an IT service desk vocabulary with a Zipf law, so a
   few words are in many articles) and 2,000 published known errors, and bulk-loads them, each
   version's search vector written by the same expression the service uses
   (``operational.knowledge.search.document_vector``).
2. Times ``knowledge.service.search`` (articles and known errors together, ranked, with
   highlighted snippets, first page of 20) for several kinds of query, as an agent and as a
   requester, and ``knowledge.service.suggest`` on incident-like titles (any of their words).
3. Times ``POST /api/v1/incidents`` through the application with suggestions on and off, the
   cost the suggestions add to raising an incident.

Each query kind runs ``--repeats`` times over different terms; p50 and p95 are printed in
milliseconds. No asserts: the figures are for people.

Run: python bench/knowledge_search.py [--articles 100000] [--known-errors 2000] [--repeats 40]
It uses a scratch database ``itsm_bench_knowledge`` on the server of ITSM_DATABASE_URL, or else
on the embedded server under ITSM_HOME (``--reuse`` keeps a loaded one).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, literal_column, pool, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bench.scratch import scratch_database
from operational.core.migrate import upgrade
from operational.core.pagination import PageParams

BENCH_DATABASE = "itsm_bench_knowledge"
WORDS = tuple(
    [
        "password",
        "reset",
        "account",
        "locked",
        "vpn",
        "tunnel",
        "disconnect",
        "printer",
        "offline",
        "queue",
        "toner",
        "driver",
        "laptop",
        "docking",
        "station",
        "monitor",
        "screen",
        "flicker",
        "outlook",
        "mailbox",
        "quota",
        "calendar",
        "sharing",
        "teams",
        "meeting",
        "audio",
        "camera",
        "wifi",
        "wireless",
        "network",
        "slow",
        "timeout",
        "certificate",
        "expired",
        "browser",
        "cache",
        "cookie",
        "sso",
        "login",
        "loop",
        "mfa",
        "token",
        "authenticator",
        "phone",
        "crm",
        "erp",
        "payroll",
        "invoice",
        "report",
        "export",
        "database",
        "connection",
        "pool",
        "storage",
        "disk",
        "full",
        "backup",
        "restore",
        "file",
        "share",
        "permission",
        "denied",
        "server",
        "restart",
        "service",
        "update",
        "patch",
        "install",
        "licence",
        "activation",
        "keyboard",
        "mouse",
        "bluetooth",
        "sync",
        "onedrive",
        "sharepoint",
        "intranet",
        "portal",
        "ticket",
        "request",
        "access",
        "group",
        "membership",
        "firewall",
        "proxy",
        "dns",
        "address",
        "conflict",
        "battery",
        "charger",
        "crash",
        "freeze",
        "error",
        "message",
        "blue",
        "screen",
    ]
)
GERMAN = tuple(
    [
        "Drucker",
        "druckt",
        "nicht",
        "Passwort",
        "vergessen",
        "Verbindung",
        "getrennt",
        "Netzwerk",
        "langsam",
        "Konto",
        "gesperrt",
    ]
)
DUTCH = tuple(
    [
        "printer",
        "print",
        "niet",
        "wachtwoord",
        "vergeten",
        "verbinding",
        "verbroken",
        "netwerk",
        "traag",
        "account",
        "geblokkeerd",
    ]
)
QUERIES = {
    "one common word": ["password", "printer", "vpn", "outlook", "network", "error", "slow"],
    "two words": [
        "vpn disconnect",
        "printer offline",
        "mailbox quota",
        "account locked",
        "certificate expired",
        "disk full",
        "sso login",
    ],
    "phrase": ['"reset password"', '"printer offline"', '"blue screen"', '"permission denied"'],
    "rare word": ["authenticator", "licence", "bluetooth", "onedrive", "charger"],
    "German words": ["Drucker druckt", "Passwort vergessen", "Verbindung getrennt"],
    "no match": ["quantumflux", "zebracorn"],
}
TITLES = [
    "My laptop wifi keeps disconnecting",
    "Outlook says my mailbox is full",
    "Cannot reset my password",
    "Printer on floor 3 is offline",
    "VPN slow since the update",
    "Teams camera not working in meetings",
    "Access denied to the finance file share",
]


def _zipf_words(rng: random.Random, vocabulary: tuple[str, ...], count: int) -> list[str]:
    cumulative = _CUMULATIVE.get(vocabulary)
    if cumulative is None:
        cumulative = _CUMULATIVE[vocabulary] = list(
            accumulate(1 / (rank + 1) for rank in range(len(vocabulary)))
        )
    return rng.choices(vocabulary, cum_weights=cumulative, k=count)


# Cumulative Zipf weights per vocabulary, computed once (choices would redo it every call).
_CUMULATIVE: dict[tuple[str, ...], list[float]] = {}


def _filler(rng: random.Random, size: int) -> tuple[str, ...]:
    """A vocabulary of ``size`` made-up words, the language around an article's topic."""
    syllables = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "de", "pa", "gu", "fe", "zo")
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(syllables, k=rng.randint(2, 4))))
    return tuple(sorted(words))


def _article(rng: random.Random, topics: tuple[str, ...], filler: tuple[str, ...]):
    """An article about 2 or 3 topic words (Zipf over the service desk vocabulary, so a few
    topics are common), written in a large everyday vocabulary: a topic word is in a few per
    cent of the articles, as in a real knowledge base, not in all of them."""
    topic = list(dict.fromkeys(_zipf_words(rng, topics, rng.randint(2, 3))))
    title = " ".join(topic + _zipf_words(rng, filler, rng.randint(1, 4))).capitalize()
    words = _zipf_words(rng, filler, rng.randint(60, 250))
    for index in rng.sample(range(len(words)), min(len(words), rng.randint(3, 12))):
        words[index] = rng.choice(topic)
    return title, " ".join(words), topic


def load(url: str, *, articles: int, known_errors: int, seed: int) -> None:
    from operational.knowledge.search import document_vector

    rng = random.Random(seed)
    engine = create_engine(url, poolclass=pool.NullPool)
    started = time.perf_counter()
    vector = document_vector(
        literal_column("s.language"),
        literal_column("s.title"),
        literal_column("s.keywords"),
        literal_column("s.body_text"),
    ).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    published = datetime(2026, 1, 1, tzinfo=UTC)
    filler = _filler(rng, 20_000)
    buffer = io.StringIO()
    for number in range(1, articles + 1):
        roll = rng.random()
        language, vocabulary = (
            ("german", GERMAN)
            if roll < 0.05
            else ("dutch", DUTCH)
            if roll < 0.10
            else ("english", WORDS)
        )
        title, body, topic = _article(rng, vocabulary, filler)
        keywords = "{" + ",".join(topic) + "}"
        audience = "everyone" if rng.random() < 0.4 else "agents"
        category = rng.choice(("Network", "Access", "Printer", "Email", "Laptop", "ERP"))
        when = published + timedelta(minutes=number)
        buffer.write("\t".join((f"KB{number:07d}", title, body, keywords, audience, language,
                                category, when.isoformat())) + "\n")  # fmt: skip
    buffer.seek(0)
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        connection.execute(text(
            "create temp table s (number text, title text, body_text text, keywords text[], "
            "audience text, language text, category text, published_at timestamptz)"
        ))  # fmt: skip
        with raw.cursor() as cursor, cursor.copy("copy s from stdin") as copy:
            copy.write(buffer.getvalue())
        connection.execute(text(
            "insert into operational.knowledge_articles (number, title, body, category, keywords,"
            " audience, language, state, current_version, first_published_at, last_published_at,"
            " created_at, updated_at) select number, title, body_text, category, keywords,"
            " audience, language, 'published', 1, published_at, published_at, published_at,"
            " published_at from s"
        ))  # fmt: skip
        connection.execute(text(
            "insert into operational.knowledge_article_versions (article_id, number, title, body,"
            " body_text, category, keywords, audience, language, approved_at, is_current,"
            f" search_vector) select a.id, 1, s.title, s.body_text, s.body_text, s.category,"
            f" s.keywords, s.audience, s.language, s.published_at, true, {vector}"
            " from s join operational.knowledge_articles a on a.number = s.number"
        ))  # fmt: skip
        for number in range(1, known_errors + 1):
            title, body, _ = _article(rng, WORDS, filler)
            words = body.split()
            connection.execute(
                text(
                    "insert into operational.problems (number, title, state, impact, urgency,"
                    " priority, symptom, root_cause, workaround, known_error, known_error_at,"
                    " opened_at) values (:number, :title, 'fix_in_progress', 2, 2, 3, :symptom,"
                    " :cause, :workaround, true, now(), now())"
                ),
                {
                    "number": f"PRB{number:07d}",
                    "title": title,
                    "symptom": " ".join(words[6:25]),
                    "cause": " ".join(words[25:40]),
                    "workaround": " ".join(words[40:]),
                },
            )
        connection.execute(text("analyze"))
    engine.dispose()
    print(f"loaded {articles:,} articles and {known_errors:,} known errors in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def timed(repeats: int, terms: list[str], run: Callable[[str], object]) -> tuple[float, float]:
    samples = []
    for index in range(repeats):
        term = terms[index % len(terms)]
        started = time.perf_counter()
        run(term)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def _person(session: Session, role: str):
    from operational.auth.models import User, UserRole

    email = f"bench-{role}@example.com"
    person = session.query(User).filter_by(email=email).one_or_none()
    if person is None:
        person = User(email=email, display_name=f"Bench {role}", role_rows=[UserRole(role=role)])
        session.add(person)
        session.flush()
    return person


def measure(url: str, *, repeats: int) -> None:
    os.environ["ITSM_DATABASE_URL"] = url
    from operational.knowledge import service as knowledge

    engine = create_engine(url)
    with Session(engine) as session:
        agent, requester = (_person(session, role) for role in ("agent", "requester"))

        page = PageParams(page=1, size=20)
        print(f"\n{'query':<34} {'as':<10} {'p50 ms':>8} {'p95 ms':>8} {'matches':>9}")
        for kind, terms in QUERIES.items():
            for viewer, label in ((agent, "agent"), (requester, "requester")):
                found = knowledge.search(session=session, viewer=viewer, text=terms[0], params=page)
                p50, p95 = timed(repeats, terms, lambda term, viewer=viewer: knowledge.search(
                    session=session, viewer=viewer, text=term, params=page))  # fmt: skip
                print(f"{kind:<34} {label:<10} {p50:>8.1f} {p95:>8.1f} {found.total:>9,}")
        filtered = lambda term: knowledge.search(  # noqa: E731
            session=session, viewer=agent, text=term, params=page, category="Network",
            kinds=["article"])  # fmt: skip
        p50, p95 = timed(repeats, QUERIES["two words"], filtered)
        print(f"{'two words, category filter':<34} {'agent':<10} {p50:>8.1f} {p95:>8.1f}")
        p50, p95 = timed(repeats, TITLES, lambda term: knowledge.suggest(
            session=session, viewer=agent, text=term))  # fmt: skip
        print(f"{'suggestions for a ticket title':<34} {'agent':<10} {p50:>8.1f} {p95:>8.1f}")
        session.commit()
    engine.dispose()
    _incident_create(repeats)


def _incident_create(repeats: int) -> None:
    from fastapi.testclient import TestClient

    from operational.auth.security import create_access_token
    from operational.core.config import get_settings
    from operational.core.db import _session_factory, get_engine
    from operational.main import create_app
    from operational.tickets import hints

    for cached in (get_settings, get_engine, _session_factory):
        cached.cache_clear()
    app = create_app()
    with get_engine().connect() as connection:
        agent_id = connection.execute(
            text("select id from operational.users where email = 'bench-agent@example.com'")
        ).scalar_one()
    headers = {"Authorization": f"Bearer {create_access_token(user_id=agent_id)}"}
    providers = (hints._suggesters[:], hints._workarounds[:])
    print(f"\n{'POST /api/v1/incidents':<34} {'':<10} {'p50 ms':>8} {'p95 ms':>8}")
    with TestClient(app) as client:
        for label, on in (("with suggestions", True), ("without suggestions", False)):
            if on:
                hints._suggesters[:], hints._workarounds[:] = providers
            else:
                hints.register()

            def create(title: str) -> None:
                response = client.post("/api/v1/incidents", json={"title": title}, headers=headers)
                assert response.status_code == 201, response.text

            create(TITLES[0])  # warm
            p50, p95 = timed(repeats, TITLES, create)
            print(f"{label:<34} {'agent':<10} {p50:>8.1f} {p95:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--known-errors", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--reuse", action="store_true", help="keep a loaded scratch database")
    arguments = parser.parse_args()
    url = scratch_database(BENCH_DATABASE, reuse=arguments.reuse)
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        loaded = connection.execute(
            text("select count(*) from operational.knowledge_articles")
        ).scalar_one()
    engine.dispose()
    if not loaded:
        load(url, articles=arguments.articles, known_errors=arguments.known_errors,
             seed=arguments.seed)  # fmt: skip
    print(f"load average: {os.getloadavg()[0]:.1f}")
    measure(url, repeats=arguments.repeats)
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
