"""The demo's knowledge base: about a hundred articles, written, reviewed and published through
the knowledge service over the demo year, and used on the demo incidents.

Run after the demo export is imported (`itsm demo` does): authors are the teams' agents,
reviewers the CAB members (role manager). Each category gets five articles matching the kinds
of demo incident titles (not working, slow, error, request) and one for its known problems;
a few are in German or Dutch, some were revised (two versions), some retired, and some have a
short review period, so that they are out of date at the end of the year. About a third of
the resolved incidents were resolved with the matching article, and some requesters rated it.
Seeded: the same demo and seed give the same knowledge base.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational.auth.models import User, UserRole
from operational.incidents.models import Incident
from operational.knowledge import flows, service
from operational.knowledge.enums import ReviewDecision
from operational.knowledge.models import Article
from operational.knowledge.schemas import ArticleCreate, ArticleUpdate
from sampledata.demo import SOURCE_SYSTEM, TEAMS

# (title suffix, incident title word it answers, audience, body)
TEMPLATES = (
    ("first steps when it is not working", "not working", "everyone",
     "1. Restart the {thing}.\n2. Check the cable or the network connection.\n"
     "3. Still not working? Reply to your incident with a screenshot."),
    ("fix slow performance", "slow", "agents",
     "## Check\n\n- Free disk space and memory on the client\n- Load on `{ci}`\n\n"
     "## Fix\n\nClear the local cache, then sign out and in again."),
    ("error messages and what they mean", "error", "agents",
     "| message | meaning |\n|:-|:-|\n| `E-401` | sign-in expired |\n| `E-503` | service busy |"
     "\n\nFor `E-503`, retry after five minutes; if it persists, escalate to the team."),
    ("how to request access or a new one", "request", "everyone",
     "Use the **self-service portal**: choose *{thing}*, fill in the form, and your manager "
     "approves it. Delivery takes two working days."),
    ("known problems and workarounds", None, "agents",
     "Before escalating, check the known errors of the service: most repeat incidents have a "
     "published workaround. Link the incident to its problem."),
)  # fmt: skip
TRANSLATED = (
    ("german", "Printer", "Drucker druckt nicht: erste Schritte",
     "1. Drucker neu starten.\n2. Druckaufträge löschen.\n3. Treiber neu installieren."),
    ("german", "VPN", "VPN trennt die Verbindung",
     "Die VPN-Verbindung wird nach Inaktivität getrennt: Client aktualisieren."),
    ("dutch", "Laptop", "Laptop start niet op",
     "Houd de aan-knop tien seconden ingedrukt en sluit de oplader aan."),
    ("dutch", "Wi-Fi", "Wifi-verbinding valt steeds weg",
     "Vergeet het netwerk en maak opnieuw verbinding met het bedrijfsnetwerk."),
    ("german", "Password", "Passwort vergessen",
     "Setzen Sie Ihr Passwort im Self-Service-Portal zurück."),
)  # fmt: skip


@dataclass
class KnowledgeSeed:
    articles: int
    versions: int
    retired: int
    uses: int
    ratings: int


def _people(session: Session) -> tuple[list[User], list[User]]:
    """(agents, reviewers) of the demo: assignees of its incidents, and its CAB members."""
    reviewers = list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.source_system == SOURCE_SYSTEM, UserRole.role == "manager")
            .order_by(User.id)
        )
    )
    agents = list(
        session.scalars(
            select(User)
            .where(
                User.id.in_(
                    select(Incident.assignee_id).where(Incident.source_system == SOURCE_SYSTEM)
                )
            )
            .order_by(User.id)
        )
    )
    return agents, reviewers


def seed_knowledge(session: Session, *, seed: int = 2025) -> KnowledgeSeed:
    """Write the demo's knowledge base into the imported demo year (idempotent: a database
    that has articles already is left alone)."""
    if session.scalar(select(Article.id).limit(1)) is not None:
        return KnowledgeSeed(0, 0, 0, 0, 0)
    rng = random.Random(seed)
    agents, reviewers = _people(session)
    # Every demo person at once (with their roles and teams), not one query each later.
    session.scalars(select(User).where(User.source_system == SOURCE_SYSTEM)).all()
    if not agents or not reviewers:
        return KnowledgeSeed(0, 0, 0, 0, 0)
    first, last = session.execute(
        select(func.min(Incident.opened_at), func.max(Incident.opened_at)).where(
            Incident.source_system == SOURCE_SYSTEM
        )
    ).one()
    span = (last - first).total_seconds()
    published: dict[str, list[tuple[Article, str | None, datetime]]] = {}
    versions = retired = 0
    counter = 0

    def publish(article: Article, at: datetime) -> Article:
        author = session.get(User, article.editor_id)
        article = service.submit(session=session, article=article, expected_version=article.version,
                                 actor=author, now=at)  # fmt: skip
        reviewer = rng.choice([person for person in reviewers if person.id != author.id])
        return service.review(
            session=session, article=article, decision=ReviewDecision.approved,
            expected_version=article.version, actor=reviewer, comment="Checked", now=at,
        )  # fmt: skip

    for team, categories in TEAMS.items():
        for category in categories:
            for suffix, answers, audience, body in TEMPLATES:
                counter += 1
                author = rng.choice(agents)
                at = first + timedelta(seconds=span * rng.uniform(0.0, 0.45))
                data = ArticleCreate(
                    title=f"{category}: {suffix}",
                    body=body.format(thing=category.lower(), ci=f"{category.lower()}-service"),
                    category=category,
                    keywords=[category.lower(), team.lower()],
                    audience=audience,
                    review_period_days=120 if counter % 7 == 0 else 365,
                )
                article = service.create(session=session, data=data, actor=author, now=at)
                article = publish(article, at + timedelta(hours=rng.uniform(2, 48)))
                versions += 1
                if counter % 5 == 0:  # revised later in the year: a second version
                    later = at + timedelta(seconds=span * rng.uniform(0.2, 0.4))
                    editor = rng.choice(agents)
                    article = service.update(
                        session=session, article=article,
                        data=ArticleUpdate(body=article.body + "\n\nUpdated after the review."),
                        expected_version=article.version, actor=editor, now=later,
                    )  # fmt: skip
                    article = publish(article, later + timedelta(hours=4))
                    versions += 1
                if counter % 23 == 0:
                    end = at + timedelta(seconds=span * 0.5)
                    service.retire(session=session, article=article, reason="Superseded",
                                   expected_version=article.version,
                                   actor=rng.choice(reviewers), now=end)  # fmt: skip
                    retired += 1
                    continue
                published.setdefault(category, []).append(
                    (article, answers, article.first_published_at)
                )
    for language, category, title, body in TRANSLATED:
        at = first + timedelta(seconds=span * rng.uniform(0.1, 0.5))
        article = service.create(
            session=session,
            data=ArticleCreate(
                title=title, body=body, category=category, language=language, audience="everyone"
            ),
            actor=rng.choice(agents),
            now=at,
        )
        publish(article, at + timedelta(hours=3))
        versions += 1
    uses, ratings = _uses(session, rng, published)
    return KnowledgeSeed(counter + len(TRANSLATED), versions, retired, uses, ratings)


def _uses(
    session: Session,
    rng: random.Random,
    published: dict[str, list[tuple[Article, str | None, datetime]]],
) -> tuple[int, int]:
    """About a third of the resolved incidents were resolved with the article answering their
    title (published before they were resolved); a sixth of those uses were rated."""
    resolved = session.execute(
        select(Incident.id, Incident.title, Incident.category, Incident.resolved_at,
               Incident.assignee_id, Incident.requester_id)
        .where(Incident.source_system == SOURCE_SYSTEM, Incident.resolved_at.is_not(None))
        .order_by(Incident.id)
    ).all()  # fmt: skip
    names = dict(session.execute(select(User.id, User.display_name)).all())
    uses, ratings = [], 0
    for incident_id, title, category, resolved_at, assignee_id, requester_id in resolved:
        matching = [
            (article, at)
            for article, answers, at in published.get(category or "", [])
            if answers and answers in (title or "") and at <= resolved_at
        ]
        if not matching or rng.random() >= 0.35:
            continue
        article, _ = matching[0]
        uses.append({
            "article_id": article.id, "article_number": article.number,
            "article_version": article.current_version
            - (resolved_at < article.last_published_at),
            "incident_id": incident_id, "used_by_id": assignee_id,
            "actor_label": names.get(assignee_id), "resolved": True, "used_at": resolved_at,
        })  # fmt: skip
        if requester_id and article.audience == "everyone" and rng.random() < 0.17:
            requester = session.get(User, requester_id)
            service.give_feedback(
                session=session, article=article, viewer=requester,
                helpful=rng.random() < 0.8, now=resolved_at + timedelta(hours=2),
            )  # fmt: skip
            ratings += 1
    written = flows.import_uses(session=session, uses=uses)
    return written, ratings
