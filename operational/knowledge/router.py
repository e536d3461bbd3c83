from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.core.concurrency import ExpectedVersion, set_etag
from operational.core.db import DbSession
from operational.core.errors import BadRequest
from operational.core.pagination import PageQuery
from operational.events.schemas import EventPage, EventRead
from operational.knowledge import flows, rendering, service
from operational.knowledge.dependencies import CurrentArticle, ensure_editor
from operational.knowledge.enums import ArticleState, Audience, Language, ResultKind
from operational.knowledge.exceptions import ArticleNotFound
from operational.knowledge.models import Article, ArticleVersion
from operational.knowledge.schemas import (
    ArticleCreate,
    ArticlePage,
    ArticleRead,
    ArticleUpdate,
    DraftFromIncident,
    DraftFromProblem,
    FeedbackCreate,
    FeedbackRead,
    RetireRequest,
    ReviewRequest,
    SearchPage,
    SearchResult,
    SubmitRequest,
    UseCreate,
    UsePage,
    UseRead,
    VersionRead,
    VersionSummary,
)

router = APIRouter(tags=["knowledge"])
PREFIX = "/knowledge"


def _read(
    session: DbSession,
    article: Article,
    viewer: User,
    response: Response | None = None,
    tallies: tuple[int, int, int] | None = None,
) -> ArticleRead:
    """The working copy for editors; for readers, the published version they may read."""
    if response is not None:
        set_etag(response, article.version)
    helpful, not_helpful, uses = tallies or service.tallies(
        session=session, article_ids=[article.id]
    ).get(article.id, (0, 0, 0))
    read = ArticleRead.model_validate(article)
    extra = {
        "helpful": helpful,
        "not_helpful": not_helpful,
        "uses": uses,
        "review_due_at": service.review_due_at(article),
    }
    if service.is_editor(viewer):
        extra |= {
            "body_html": rendering.render_html(article.body),
            "allowed_transitions": service.allowed_moves(article),
        }
    else:
        published = service.readable_version(session=session, article=article, viewer=viewer)
        extra |= {
            "view": "published",
            "state": ArticleState.published,
            "editor": None,
            **{
                name: getattr(published, name)
                for name in ("title", "body", "category", "service", "keywords")
            },
            "audience": Audience(published.audience),
            "language": Language(published.language),
            "body_html": rendering.render_html(published.body),
        }
    return read.model_copy(update=extra)


def _version_read(version: ArticleVersion) -> VersionRead:
    return VersionRead.model_validate(version).model_copy(
        update={"body_html": rendering.render_html(version.body)}
    )


# ---------------------------------------------------------------------------------- search


@router.get(
    f"{PREFIX}/search",
    summary="Full-text search over published articles and known errors together",
)
def search(
    user: Annotated[User, require("knowledge:read")],
    session: DbSession,
    page: PageQuery,
    q: Annotated[str, Query(max_length=500, description="Web-search syntax; empty: newest")] = "",
    kind: Annotated[list[ResultKind], Query(description="Default: both")] = (),
    language: Annotated[list[Language], Query(description="Articles in these; default all")] = (),
    category: str | None = None,
    service_name: Annotated[str | None, Query(alias="service")] = None,
    keyword: Annotated[str | None, Query(description="Articles with this keyword")] = None,
) -> SearchPage:
    if page.sort:
        raise BadRequest("Search results come best match first; sort is not supported here")
    found = service.search(
        session=session,
        viewer=user,
        text=q,
        params=page,
        kinds=list(kind),
        languages=[item.value for item in language],
        category=category,
        service=service_name,
        keyword=keyword,
    )
    return found.map(SearchResult.model_validate)


# -------------------------------------------------------------------------------- articles


@router.get(f"{PREFIX}/articles", summary="List articles (readers: the published ones)")
def list_articles(
    user: Annotated[User, require("knowledge:read")],
    session: DbSession,
    page: PageQuery,
    state: Annotated[list[ArticleState], Query()] = (),
    category: str | None = None,
    service_name: Annotated[str | None, Query(alias="service")] = None,
    audience: Audience | None = None,
    author_id: int | None = None,
    out_of_date: Annotated[
        bool | None, Query(description="Published longer ago than their review period")
    ] = None,
    q: Annotated[str | None, Query(description="Part of the title or number")] = None,
) -> ArticlePage:
    found = service.list_articles(
        session=session,
        viewer=user,
        params=page,
        state=[item.value for item in state],
        category=category,
        service=service_name,
        audience=audience.value if audience else None,
        author_id=author_id,
        out_of_date=out_of_date,
        q=q,
    )
    tallies = service.tallies(session=session, article_ids=[item.id for item in found.items])
    return found.map(lambda article: _read(session, article, user, tallies=tallies.get(article.id)))


@router.post(
    f"{PREFIX}/articles", status_code=status.HTTP_201_CREATED, summary="Write a draft article"
)
def create_article(
    user: Annotated[User, require("knowledge:write")],
    data: ArticleCreate,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    article = service.create(session=session, data=data, actor=user)
    response.headers["Location"] = f"/api/v1{PREFIX}/articles/{article.id}"
    return _read(session, article, user, response)


@router.post(
    f"{PREFIX}/articles/from-incident",
    status_code=status.HTTP_201_CREATED,
    summary="Start a draft from a resolved incident, its resolution prefilled",
)
def draft_from_incident(
    user: Annotated[User, require("knowledge:write")],
    data: DraftFromIncident,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    article = flows.draft_from_incident(session=session, incident_id=data.incident_id, actor=user)
    response.headers["Location"] = f"/api/v1{PREFIX}/articles/{article.id}"
    return _read(session, article, user, response)


@router.post(
    f"{PREFIX}/articles/from-problem",
    status_code=status.HTTP_201_CREATED,
    summary="Start a draft from a known error, its cause, workaround and fix prefilled",
)
def draft_from_problem(
    user: Annotated[User, require("knowledge:write")],
    data: DraftFromProblem,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    article = flows.draft_from_problem(session=session, problem_id=data.problem_id, actor=user)
    response.headers["Location"] = f"/api/v1{PREFIX}/articles/{article.id}"
    return _read(session, article, user, response)


@router.get(
    f"{PREFIX}/articles/{{article_id}}",
    summary="One article, by id or number, its body rendered as safe HTML; the ETag is its version",
)
def get_article(
    user: Annotated[User, require("knowledge:read")],
    article: CurrentArticle,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    return _read(session, article, user, response)


@router.patch(
    f"{PREFIX}/articles/{{article_id}}",
    summary="Edit the working copy (If-Match required); a published article gets a new draft "
    "revision",
)
def update_article(
    user: Annotated[User, require("knowledge:write")],
    article: CurrentArticle,
    data: ArticleUpdate,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    updated = service.update(
        session=session, article=article, data=data, expected_version=expected_version, actor=user
    )
    return _read(session, updated, user, response)


@router.post(f"{PREFIX}/articles/{{article_id}}/submit", summary="Send the draft to review")
def submit_article(
    user: Annotated[User, require("knowledge:write")],
    article: CurrentArticle,
    data: SubmitRequest,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    submitted = service.submit(
        session=session,
        article=article,
        expected_version=expected_version,
        actor=user,
        comment=data.comment,
    )
    return _read(session, submitted, user, response)


@router.post(
    f"{PREFIX}/articles/{{article_id}}/review",
    summary="Approve (publish as the next version) or send back the revision in review",
)
def review_article(
    user: Annotated[User, require("knowledge:approve")],
    article: CurrentArticle,
    data: ReviewRequest,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    reviewed = service.review(
        session=session,
        article=article,
        decision=data.decision,
        expected_version=expected_version,
        actor=user,
        comment=data.comment,
    )
    return _read(session, reviewed, user, response)


@router.post(
    f"{PREFIX}/articles/{{article_id}}/retire",
    summary="Withdraw the article from readers and search; its versions stay",
)
def retire_article(
    user: Annotated[User, require("knowledge:approve")],
    article: CurrentArticle,
    data: RetireRequest,
    expected_version: ExpectedVersion,
    session: DbSession,
    response: Response,
) -> ArticleRead:
    retired = service.retire(
        session=session,
        article=article,
        reason=data.reason,
        expected_version=expected_version,
        actor=user,
    )
    return _read(session, retired, user, response)


@router.get(
    f"{PREFIX}/articles/{{article_id}}/versions",
    summary="Every published version, newest first, with who wrote and who approved it",
)
def list_versions(
    user: Annotated[User, require("knowledge:read")], article: CurrentArticle, session: DbSession
) -> list[VersionSummary]:
    found = service.versions(session=session, article=article)
    if not service.is_editor(user):
        found = [item for item in found if item.is_current]
    return [VersionSummary.model_validate(item) for item in found]


@router.get(
    f"{PREFIX}/articles/{{article_id}}/versions/{{number}}",
    summary="One published version, its body rendered as safe HTML",
)
def get_version(
    user: Annotated[User, require("knowledge:read")],
    article: CurrentArticle,
    number: Annotated[int, Path(ge=1, le=1_000_000)],
    session: DbSession,
) -> VersionRead:
    found = service.version(session=session, article=article, number=number)
    if not service.is_editor(user) and not found.is_current:
        raise ArticleNotFound(f"{article.number} has no version {number}")
    return _version_read(found)


@router.get(
    f"{PREFIX}/articles/{{article_id}}/history",
    summary="The article's event log (editors)",
)
def article_history(
    user: Annotated[User, require("knowledge:read")],
    article: CurrentArticle,
    session: DbSession,
    page: PageQuery,
) -> EventPage:
    ensure_editor(user)
    found = service.history(session=session, article=article, params=page)
    return found.map(EventRead.model_validate)


@router.put(
    f"{PREFIX}/articles/{{article_id}}/feedback",
    summary="Mark the article helpful or not (one verdict per reader; again: replaced)",
)
def give_feedback(
    user: Annotated[User, require("knowledge:read")],
    article: CurrentArticle,
    data: FeedbackCreate,
    session: DbSession,
) -> FeedbackRead:
    feedback = service.give_feedback(
        session=session, article=article, viewer=user, helpful=data.helpful, comment=data.comment
    )
    return FeedbackRead.model_validate(feedback)


@router.post(
    f"{PREFIX}/articles/{{article_id}}/uses",
    status_code=status.HTTP_201_CREATED,
    summary="Record that the article helped with an incident; resolve: resolve it with it",
)
def record_use(
    user: Annotated[User, require("knowledge:write")],
    article: CurrentArticle,
    data: UseCreate,
    session: DbSession,
) -> UseRead:
    return UseRead.model_validate(
        flows.record_use(session=session, article=article, data=data, actor=user)
    )


@router.get(
    f"{PREFIX}/articles/{{article_id}}/uses",
    summary="The incidents the article helped with (editors)",
)
def list_uses(
    user: Annotated[User, require("knowledge:read")],
    article: CurrentArticle,
    session: DbSession,
    page: PageQuery,
) -> UsePage:
    ensure_editor(user)
    return service.uses(session=session, article=article, params=page).map(UseRead.model_validate)
