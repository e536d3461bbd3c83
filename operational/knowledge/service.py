"""The knowledge base: articles and their lifecycle (draft → review → published → retired),
published versions kept for ever with who approved them, readers' feedback, and search over
articles and known errors together.

Every change to an article is appended to the event log (entity 'knowledge_article'). Work that
touches incidents (recording a use, drafting from a ticket) is in ``operational.knowledge.flows``.
Functions flush, never commit, and raise domain exceptions.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.core.concurrency import check_version
from operational.core.config import get_settings
from operational.core.db import insert_rows
from operational.core.errors import InvalidTransition
from operational.core.pagination import Page, PageParams, paginate
from operational.core.references import record_id, record_number
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.events.models import Event
from operational.knowledge import rendering
from operational.knowledge.enums import ArticleState, Audience, ResultKind, ReviewDecision
from operational.knowledge.exceptions import ArticleNotFound, SelfApproval
from operational.knowledge.models import (
    Article,
    ArticleFeedback,
    ArticleUse,
    ArticleVersion,
    article_number_seq,
)
from operational.knowledge.schemas import CONTENT_FIELDS, ArticleCreate, ArticleUpdate
from operational.knowledge.search import ArticleFilters, document_vector, match_articles
from operational.problems import service as problems_service
from operational.tickets.hints import KnownErrorHint, Suggestion

NUMBER_PREFIX = "KB"
NUMBER_DIGITS = 7
EDITOR_PERMISSIONS = ("knowledge:write", "knowledge:approve")
KNOWN_ERRORS_PERMISSION = "problem:read"
# Suggestions rank at most this many of the articles sharing two words with a ticket.
SUGGESTION_CANDIDATES = 1_000

S = ArticleState
# The moves of the working copy; editing a published or retired article makes it a draft.
TRANSITIONS: dict[ArticleState, tuple[ArticleState, ...]] = {
    S.draft: (S.review, S.retired),
    S.review: (S.published, S.draft, S.retired),
    S.published: (S.draft, S.retired),
    S.retired: (S.draft,),
}

SORTABLE = {
    "number": Article.number,
    "title": Article.title,
    "state": Article.state,
    "updated_at": Article.updated_at,
    "last_published_at": Article.last_published_at,
    "created_at": Article.created_at,
}
DEFAULT_SORT = (Article.updated_at.desc(), Article.id.desc())


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def is_editor(user: User) -> bool:
    return any(has_permission(user, permission) for permission in EDITOR_PERMISSIONS)


def audiences_for(user: User) -> tuple[str, ...]:
    """Agents (editors) read every article; everyone else those written for everyone."""
    if is_editor(user):
        return tuple(audience.value for audience in Audience)
    return (Audience.everyone.value,)


def sees_known_errors(user: User) -> bool:
    return has_permission(user, KNOWN_ERRORS_PERMISSION)


# ---------------------------------------------------------------------------------- lookups


def get(*, session: Session, article_id: int, for_update: bool = False) -> Article:
    statement = select(Article).where(Article.id == article_id)
    if for_update:  # locked and reloaded: what another transaction wrote shows
        statement = statement.with_for_update(of=Article).execution_options(populate_existing=True)
    article = session.scalar(statement)
    if article is None:
        raise ArticleNotFound(f"Article {article_id} does not exist", article_id=article_id)
    return article


def get_by_reference(*, session: Session, reference: str) -> Article:
    """By id (``42``) or by number (``KB0000042``)."""
    reference = reference.strip()
    if (article_id := record_id(reference)) is not None:
        return get(session=session, article_id=article_id)
    article = None
    if number := record_number(reference, max_length=Article.__table__.c.number.type.length):
        article = session.scalar(select(Article).where(Article.number == number))
    if article is None:
        raise ArticleNotFound(f"Article {reference} does not exist")
    return article


def current_version(*, session: Session, article: Article) -> ArticleVersion | None:
    return session.scalar(
        select(ArticleVersion).where(
            ArticleVersion.article_id == article.id, ArticleVersion.is_current
        )
    )


def readable_version(*, session: Session, article: Article, viewer: User) -> ArticleVersion:
    """The published version ``viewer`` may read; a 404 (as if missing) otherwise."""
    version = current_version(session=session, article=article)
    if version is None or version.audience not in audiences_for(viewer):
        raise ArticleNotFound(f"Article {article.number} does not exist")
    return version


def versions(*, session: Session, article: Article) -> list[ArticleVersion]:
    return list(
        session.scalars(
            select(ArticleVersion)
            .where(ArticleVersion.article_id == article.id)
            .order_by(ArticleVersion.number.desc())
        ).all()
    )


def version(*, session: Session, article: Article, number: int) -> ArticleVersion:
    found = session.scalar(
        select(ArticleVersion).where(
            ArticleVersion.article_id == article.id, ArticleVersion.number == number
        )
    )
    if found is None:
        raise ArticleNotFound(f"{article.number} has no version {number}")
    return found


def allowed_moves(article: Article) -> list[str]:
    moves = list(TRANSITIONS[ArticleState(article.state)])
    if article.current_version is None and ArticleState.retired in moves:
        moves.remove(ArticleState.retired)  # never published: nothing to retire
    return [move.value for move in moves]


def review_due_at(article: Article) -> datetime | None:
    if article.last_published_at is None or article.state == ArticleState.retired:
        return None
    return article.last_published_at + timedelta(days=article.review_period_days)


def tallies(*, session: Session, article_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(helpful, not helpful, uses) per article."""
    found: dict[int, list[int]] = {article_id: [0, 0, 0] for article_id in article_ids}
    for article_id, helpful, count in session.execute(
        select(ArticleFeedback.article_id, ArticleFeedback.helpful, func.count())
        .where(ArticleFeedback.article_id.in_(article_ids))
        .group_by(ArticleFeedback.article_id, ArticleFeedback.helpful)
    ):
        found[article_id][0 if helpful else 1] = count
    for article_id, count in session.execute(
        select(ArticleUse.article_id, func.count())
        .where(ArticleUse.article_id.in_(article_ids))
        .group_by(ArticleUse.article_id)
    ):
        found[article_id][2] = count
    return {article_id: (h, n, u) for article_id, (h, n, u) in found.items()}


# ------------------------------------------------------------------------------ the log


def _record(
    session: Session,
    article: Article,
    kind: EventKind,
    actor: User | None,
    now: datetime,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    data: dict[str, Any] | None = None,
) -> Event:
    return events.append(
        session=session,
        entity_type=EntityType.knowledge_article,
        entity_id=article.id,
        kind=kind,
        actor=actor,
        field=field,
        old_value=old,
        new_value=new,
        data=data,
        occurred_at=now,
    )


def _move(
    session: Session,
    article: Article,
    target: ArticleState,
    actor: User | None,
    now: datetime,
    *,
    data: dict[str, Any] | None = None,
) -> None:
    if target.value not in allowed_moves(article):
        raise InvalidTransition(article.state, target.value, allowed_moves(article))
    old = article.state
    article.state = target.value
    _record(session, article, EventKind.state_changed, actor, now, field="state", old=old,
            new=target.value, data=data)  # fmt: skip


def _finish(article: Article, now: datetime) -> None:
    article.version += 1
    article.updated_at = now


def history(*, session: Session, article: Article, params: PageParams) -> Page[Any]:
    return events.history(
        session=session,
        entity_type=EntityType.knowledge_article,
        entity_id=article.id,
        params=params,
    )


# ---------------------------------------------------------------------------- create/update


def _next_number(session: Session) -> str:
    value = session.scalar(select(article_number_seq.next_value()))
    return f"{NUMBER_PREFIX}{value:0{NUMBER_DIGITS}d}"


def create(
    *,
    session: Session,
    data: ArticleCreate,
    actor: User,
    source_incident_id: int | None = None,
    source_problem_id: int | None = None,
    now: datetime | None = None,
) -> Article:
    """A new article, as a draft."""
    now = _now(now)
    article = Article(
        number=_next_number(session),
        title=data.title,
        body=data.body,
        category=data.category,
        service=data.service,
        keywords=list(dict.fromkeys(data.keywords)),
        audience=data.audience.value,
        language=data.language.value,
        review_period_days=data.review_period_days,
        state=ArticleState.draft.value,
        author_id=actor.id,
        editor_id=actor.id,
        source_incident_id=source_incident_id,
        source_problem_id=source_problem_id,
        created_at=now,
        updated_at=now,
    )
    session.add(article)
    session.flush()
    _record(session, article, EventKind.created, actor, now, new=article.number, data={
        "title": article.title, "state": article.state, "audience": article.audience,
        "language": article.language, "category": article.category, "service": article.service,
        "source_incident_id": source_incident_id, "source_problem_id": source_problem_id,
    })  # fmt: skip
    return article


def update(
    *,
    session: Session,
    article: Article,
    data: ArticleUpdate,
    expected_version: int,
    actor: User,
    now: datetime | None = None,
) -> Article:
    """Edit the working copy; one event per changed field. A published or retired article
    becomes a draft revision (readers keep the published version); one in review goes back to
    draft, as the reviewer would read something else than what was submitted."""
    now = _now(now)
    article = get(session=session, article_id=article.id, for_update=True)
    check_version(current=article.version, expected=expected_version, what=article.number)
    given = data.model_dump(exclude_unset=True, mode="json")
    if "keywords" in given:
        given["keywords"] = list(dict.fromkeys(given["keywords"]))
    changed = [
        (name, getattr(article, name), given[name])
        for name in CONTENT_FIELDS
        if name in given and getattr(article, name) != given[name]
    ]
    if not changed:
        return article
    for name, _, new in changed:
        setattr(article, name, new)
    article.editor_id = actor.id
    for name, old, new in changed:
        _record(session, article, EventKind.field_changed, actor, now, field=name,
                old=_logged(old), new=_logged(new))  # fmt: skip
    if article.state != ArticleState.draft:
        _move(session, article, ArticleState.draft, actor, now, data={"reason": "edited"})
    _finish(article, now)
    session.flush()
    return article


def _logged(value: Any) -> Any:
    return ", ".join(value) if isinstance(value, list) else value


# --------------------------------------------------------------------------------- lifecycle


def submit(
    *,
    session: Session,
    article: Article,
    expected_version: int,
    actor: User,
    comment: str | None = None,
    now: datetime | None = None,
) -> Article:
    """Send the working copy to review."""
    now = _now(now)
    article = get(session=session, article_id=article.id, for_update=True)
    check_version(current=article.version, expected=expected_version, what=article.number)
    if article.state != ArticleState.draft:
        raise InvalidTransition(article.state, ArticleState.review.value, allowed_moves(article))
    _move(session, article, ArticleState.review, actor, now, data={"comment": comment})
    article.submitted_at = now
    _finish(article, now)
    session.flush()
    return article


def review(
    *,
    session: Session,
    article: Article,
    decision: ReviewDecision,
    expected_version: int,
    actor: User,
    comment: str | None = None,
    now: datetime | None = None,
) -> Article:
    """Approve the revision in review (it is published as the next version, kept for ever
    with its approver) or send it back to draft. Nobody approves their own revision."""
    now = _now(now)
    article = get(session=session, article_id=article.id, for_update=True)
    check_version(current=article.version, expected=expected_version, what=article.number)
    target = ArticleState.published if decision == ReviewDecision.approved else ArticleState.draft
    if article.state != ArticleState.review:
        raise InvalidTransition(article.state, target.value, allowed_moves(article))
    if decision == ReviewDecision.approved and article.editor_id == actor.id:
        raise SelfApproval(
            f"You wrote this revision of {article.number}; another reviewer must approve it"
        )
    _record(session, article, EventKind.approval_decided, actor, now, field="review",
            new=decision.value, data={"comment": comment})  # fmt: skip
    if decision == ReviewDecision.approved:
        _publish(session, article, actor, now, comment)
    _move(session, article, target, actor, now, data={"comment": comment})
    _finish(article, now)
    session.flush()
    return article


def _publish(
    session: Session, article: Article, actor: User, now: datetime, comment: str | None
) -> ArticleVersion:
    number = (article.current_version or 0) + 1
    latest = session.scalar(
        select(func.max(ArticleVersion.number)).where(ArticleVersion.article_id == article.id)
    )
    number = max(number, (latest or 0) + 1)
    session.execute(
        sql_update(ArticleVersion)
        .where(ArticleVersion.article_id == article.id, ArticleVersion.is_current)
        .values(is_current=False)
    )
    body_text = rendering.plain_text(article.body)
    published = ArticleVersion(
        article_id=article.id,
        number=number,
        title=article.title,
        body=article.body,
        body_text=body_text,
        category=article.category,
        service=article.service,
        keywords=list(article.keywords),
        audience=article.audience,
        language=article.language,
        author_id=article.editor_id,
        approved_by_id=actor.id,
        approved_at=now,
        review_comment=comment,
        is_current=True,
        search_vector=document_vector(
            article.language, article.title, list(article.keywords), body_text
        ),
    )
    session.add(published)
    article.current_version = number
    article.first_published_at = article.first_published_at or now
    article.last_published_at = now
    article.retired_at = None
    session.flush()
    return published


def retire(
    *,
    session: Session,
    article: Article,
    reason: str,
    expected_version: int,
    actor: User,
    now: datetime | None = None,
) -> Article:
    """Withdraw the article from readers and search; its versions stay in its history."""
    now = _now(now)
    article = get(session=session, article_id=article.id, for_update=True)
    check_version(current=article.version, expected=expected_version, what=article.number)
    _move(session, article, ArticleState.retired, actor, now, data={"reason": reason})
    session.execute(
        sql_update(ArticleVersion)
        .where(ArticleVersion.article_id == article.id, ArticleVersion.is_current)
        .values(is_current=False)
    )
    article.retired_at = now
    _finish(article, now)
    session.flush()
    return article


# -------------------------------------------------------------------------- feedback and use


def give_feedback(
    *,
    session: Session,
    article: Article,
    viewer: User,
    helpful: bool,
    comment: str | None = None,
    now: datetime | None = None,
) -> ArticleFeedback:
    """The reader's verdict on the version they read (given again: replaced)."""
    now = _now(now)
    read = readable_version(session=session, article=article, viewer=viewer)
    feedback = session.scalar(
        select(ArticleFeedback).where(
            ArticleFeedback.article_id == article.id, ArticleFeedback.user_id == viewer.id
        )
    )
    if feedback is None:
        feedback = ArticleFeedback(article_id=article.id, user_id=viewer.id)
        session.add(feedback)
    feedback.helpful = helpful
    feedback.comment = comment
    feedback.article_version = read.number
    feedback.given_at = now
    session.flush()
    _record(session, article, EventKind.feedback_given, viewer, now, new=helpful,
            data={"version": read.number, "comment": comment})  # fmt: skip
    return feedback


def record_use(
    *,
    session: Session,
    article: Article,
    incident_id: int,
    resolved: bool,
    actor: User,
    now: datetime | None = None,
) -> ArticleUse:
    """Record that the article helped with the incident (the flow records the incident's side).
    Recorded again for the same incident: kept once, resolved if either said so."""
    now = _now(now)
    published = current_version(session=session, article=article)
    if published is None:
        raise ArticleNotFound(
            f"{article.number} is not published; only published articles are used"
        )
    use = session.scalar(
        select(ArticleUse).where(
            ArticleUse.article_id == article.id, ArticleUse.incident_id == incident_id
        )
    )
    if use is None:
        use = ArticleUse(
            article_id=article.id,
            incident_id=incident_id,
            article_version=published.number,
            used_by_id=actor.id,
            resolved=resolved,
            used_at=now,
        )
        session.add(use)
    else:
        use.resolved = use.resolved or resolved
    session.flush()
    _record(session, article, EventKind.article_used, actor, now, new=incident_id,
            data={"incident_id": incident_id, "resolved": resolved,
                  "version": published.number})  # fmt: skip
    return use


def import_uses(*, session: Session, uses: list[dict[str, Any]]) -> list[Any]:
    """Uses recorded in bulk (an import, the demo): each a mapping of article_id,
    article_version, incident_id, used_by_id, actor_label, resolved and used_at. One already
    recorded is skipped. Returns the rows written, each with its article's event appended."""
    if not uses:
        return []
    columns = ("article_id", "article_version", "incident_id", "used_by_id", "resolved", "used_at")
    written = insert_rows(
        session,
        ArticleUse.__table__,
        [{name: use[name] for name in columns} for use in uses],
        suffix="on conflict (article_id, incident_id) do nothing",
        returning=columns,
    )
    labels = {(use["article_id"], use["incident_id"]): use.get("actor_label") for use in uses}
    events.append_many(
        session=session,
        events=[
            {
                "entity_type": EntityType.knowledge_article,
                "entity_id": row.article_id,
                "kind": EventKind.article_used,
                "occurred_at": row.used_at,
                "actor_id": row.used_by_id,
                "actor_label": labels[(row.article_id, row.incident_id)] or "import",
                "new_value": row.incident_id,
                "data": {
                    "incident_id": row.incident_id,
                    "resolved": row.resolved,
                    "version": row.article_version,
                },
            }
            for row in written
        ],
    )
    return written


def uses(*, session: Session, article: Article, params: PageParams) -> Page[Any]:
    statement = select(ArticleUse).where(ArticleUse.article_id == article.id)
    return paginate(
        session,
        statement,
        params,
        sortable={"used_at": ArticleUse.used_at},
        default_sort=[ArticleUse.used_at.desc(), ArticleUse.id.desc()],
    )


# ------------------------------------------------------------------------------------- lists


def list_articles(
    *,
    session: Session,
    viewer: User,
    params: PageParams,
    state: list[str] | None = None,
    category: str | None = None,
    service: str | None = None,
    audience: str | None = None,
    author_id: int | None = None,
    out_of_date: bool | None = None,
    q: str | None = None,
    now: datetime | None = None,
) -> Page[Any]:  # of Article
    """Editors list every article's working copy; readers the published ones they may read."""
    statement = select(Article)
    if not is_editor(viewer):
        statement = statement.where(
            Article.id.in_(
                select(ArticleVersion.article_id).where(
                    ArticleVersion.is_current,
                    ArticleVersion.audience.in_(audiences_for(viewer)),
                )
            )
        )
    if state:
        statement = statement.where(Article.state.in_(state))
    for column, value in ((Article.category, category), (Article.service, service)):
        if value:
            statement = statement.where(func.lower(column) == value.strip().lower())
    if audience:
        statement = statement.where(Article.audience == audience)
    if author_id is not None:
        statement = statement.where(Article.author_id == author_id)
    if out_of_date is not None:
        due = Article.last_published_at + func.make_interval(0, 0, 0, Article.review_period_days)
        stale = (Article.current_version.is_not(None)) & (due < _now(now))
        statement = statement.where(stale if out_of_date else ~stale)
    if q and q.strip():
        pattern = q.strip()
        statement = statement.where(
            or_(
                Article.title.icontains(pattern, autoescape=True),
                Article.number.icontains(pattern, autoescape=True),
            )
        )
    return paginate(session, statement, params, sortable=SORTABLE, default_sort=DEFAULT_SORT)


# ------------------------------------------------------------------- search and suggestions


def _article_result(hit: Any) -> dict[str, Any]:
    found = hit.version
    return {
        "kind": ResultKind.article,
        "id": found.article_id,
        "number": hit.article_number,
        "title": found.title,
        "snippet": hit.snippet,
        "rank": hit.rank,
        "category": found.category,
        "service": found.service,
        "audience": found.audience,
        "language": found.language,
        "version": found.number,
        "published_at": found.approved_at,
        "url": f"/api/v1/knowledge/articles/{found.article_id}",
    }


def _known_error_result(problem: Any, rank: float, snippet: str | None) -> dict[str, Any]:
    return {
        "kind": ResultKind.known_error,
        "id": problem.id,
        "number": problem.number,
        "title": problem.title,
        "snippet": snippet,
        "rank": rank,
        "category": problem.category,
        "service": problem.service,
        "workaround": problem.workaround,
        "published_at": problem.known_error_at,
        "url": f"/api/v1/problems/{problem.id}",
    }


def _best_first(result: dict[str, Any]) -> tuple[float, float, str]:
    published = result["published_at"]
    return (-result["rank"], -(published.timestamp() if published else 0), result["number"])


def search(
    *,
    session: Session,
    viewer: User,
    text: str,
    params: PageParams,
    kinds: list[ResultKind] | None = None,
    languages: list[str] | None = None,
    category: str | None = None,
    service: str | None = None,
    keyword: str | None = None,
    shared_words: bool = False,
    count: bool = True,
) -> Page[dict[str, Any]]:
    """Published articles the viewer may read and (for those who see problems) known errors,
    together, best match first (no text: newest first). Each side is ranked by the same
    ts_rank_cd, so their ranks compare; the page is cut from the merged lists."""
    kinds = kinds or list(ResultKind)
    wanted = params.offset + params.size
    results: list[dict[str, Any]] = []
    total = 0
    if ResultKind.article in kinds:
        filters = ArticleFilters(
            audiences=audiences_for(viewer),
            category=category,
            service=service,
            keyword=keyword,
            languages=tuple(languages or ()),
        )
        hits, found = match_articles(
            session=session,
            text=text,
            shared_words=shared_words,
            limit=wanted,
            filters=filters,
            count=count,
            candidates=SUGGESTION_CANDIDATES if shared_words else None,
        )
        results += [_article_result(hit) for hit in hits]
        total += found
    if ResultKind.known_error in kinds and sees_known_errors(viewer) and not keyword:
        problems, found = problems_service.match_known_errors(
            session=session,
            text=text,
            shared_words=shared_words,
            limit=wanted,
            service=service,
            category=category,
            count=count,
        )
        results += [_known_error_result(*row) for row in problems]
        total += found
    results.sort(key=_best_first)
    page = results[params.offset : params.offset + params.size]
    return Page[dict[str, Any]](items=page, total=total, page=params.page, size=params.size)


def suggest(*, session: Session, viewer: User, text: str) -> list[Suggestion]:
    """The best matching articles and known errors for a ticket's text: those sharing at least
    two of its words (its one word, when it has one), best first."""
    limit = get_settings().knowledge_suggestions
    found = search(
        session=session,
        viewer=viewer,
        text=text,
        params=PageParams(page=1, size=limit),
        shared_words=True,
        count=False,
    )
    return [
        Suggestion(
            kind=item["kind"].value,
            id=item["id"],
            number=item["number"],
            title=item["title"],
            snippet=item["snippet"],
            rank=item["rank"],
            url=item["url"],
        )
        for item in found.items
        if item["rank"] > 0
    ]


def workaround_statement(*, viewer: User, problem_id: int) -> tuple[str, dict[str, Any]] | None:
    """The statement that reads the known error behind a ticket, for those who see problems
    (None for anyone else); its row goes to ``workaround_of``."""
    if not sees_known_errors(viewer):
        return None
    return problems_service.known_error_summary_statement(problem_id)


def workaround_of(row: Sequence[Any] | None) -> KnownErrorHint | None:
    """The hint a ``workaround_statement`` row gives (None: no published known error)."""
    if row is None:
        return None
    problem_id, number, title, workaround, known_error_at = row
    return KnownErrorHint(
        problem_id=problem_id,
        number=number,
        title=title,
        workaround=workaround or "",
        known_error_at=known_error_at,
    )
