from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from operational.core.pagination import Page
from operational.core.schemas import ReadModel, RequestBody
from operational.incidents.schemas import UserRef
from operational.knowledge.enums import (
    ArticleState,
    Audience,
    Language,
    ResultKind,
    ReviewDecision,
)

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200_000)]
Label120 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Label200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]

# Fields an edit may change; each changed field is one event.
CONTENT_FIELDS = (
    "title",
    "body",
    "category",
    "service",
    "keywords",
    "audience",
    "language",
    "review_period_days",
)
NOT_NULLABLE = ("title", "body", "keywords", "audience", "language", "review_period_days")


class ArticleCreate(RequestBody):
    title: Title
    body: Body = Field(description="Markdown; raw HTML is shown as text, never run")
    category: Label120 | None = None
    service: Label200 | None = None
    keywords: list[Keyword] = Field(default_factory=list, max_length=50)
    audience: Audience = Audience.agents
    language: Language = Field(Language.english, description="Its words are stemmed so")
    review_period_days: int = Field(365, ge=1, le=3650, description="Out of date after this")


class ArticleUpdate(RequestBody):
    """Only the fields sent change. Editing a published or retired article starts a new draft
    revision; readers keep the last published version until a reviewer approves the next."""

    title: Title | None = None
    body: Body | None = None
    category: Label120 | None = None
    service: Label200 | None = None
    keywords: list[Keyword] | None = Field(None, max_length=50)
    audience: Audience | None = None
    language: Language | None = None
    review_period_days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _not_null(self) -> "ArticleUpdate":
        nulls = [n for n in NOT_NULLABLE if n in self.model_fields_set and getattr(self, n) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class DraftFromIncident(RequestBody):
    incident_id: int


class DraftFromProblem(RequestBody):
    problem_id: int


class SubmitRequest(RequestBody):
    comment: Comment | None = None


class ReviewRequest(RequestBody):
    decision: ReviewDecision
    comment: Comment | None = Field(None, description="Required when sending it back")

    @model_validator(mode="after")
    def _reason_to_reject(self) -> "ReviewRequest":
        if self.decision == ReviewDecision.rejected and not self.comment:
            raise ValueError("a comment is required to send a revision back")
        return self


class RetireRequest(RequestBody):
    reason: Comment


class FeedbackCreate(RequestBody):
    helpful: bool
    comment: Comment | None = None


class UseCreate(RequestBody):
    incident_id: int
    resolve: bool = Field(False, description="Resolve the incident with this article")
    resolution_code: str | None = Field(None, description="Default: solved_workaround")
    resolution_notes: Comment | None = Field(None, description="Default: names the article")


class VersionRead(ReadModel):
    number: int
    title: str
    body: str
    body_html: str = ""
    category: str | None
    service: str | None
    keywords: list[str]
    audience: Audience
    language: Language
    author: UserRef | None
    approved_by: UserRef | None
    approved_at: datetime
    review_comment: str | None
    is_current: bool


class VersionSummary(ReadModel):
    number: int
    title: str
    author: UserRef | None
    approved_by: UserRef | None
    approved_at: datetime
    review_comment: str | None
    is_current: bool


class ArticleRead(ReadModel):
    """Editors (knowledge:write or knowledge:approve) see the working copy (``view``
    working_copy); readers see the published version (``view`` published)."""

    id: int
    number: str
    version: int
    view: str = "working_copy"
    state: ArticleState
    title: str
    body: str
    body_html: str = ""
    category: str | None
    service: str | None
    keywords: list[str]
    audience: Audience
    language: Language
    author: UserRef | None
    editor: UserRef | None
    current_version: int | None
    first_published_at: datetime | None
    last_published_at: datetime | None
    review_due_at: datetime | None = None
    retired_at: datetime | None
    review_period_days: int
    source_incident_id: int | None
    source_problem_id: int | None
    created_at: datetime
    updated_at: datetime
    helpful: int = 0
    not_helpful: int = 0
    uses: int = 0
    allowed_transitions: list[str] = Field(default_factory=list)


ArticlePage = Page[ArticleRead]


class SearchResult(BaseModel):
    kind: ResultKind
    id: int = Field(description="The article's id, or the problem's for a known error")
    number: str
    title: str
    snippet: str | None = Field(
        None, description="Where it matches, as HTML: escaped text with the matches in <mark>"
    )
    rank: float
    category: str | None
    service: str | None
    audience: Audience | None = None
    language: Language | None = None
    version: int | None = None
    workaround: str | None = Field(None, description="Known errors: the workaround")
    published_at: datetime | None
    url: str


SearchPage = Page[SearchResult]


class FeedbackRead(ReadModel):
    article_id: int
    article_version: int | None
    helpful: bool
    comment: str | None
    given_at: datetime


class UseRead(ReadModel):
    id: int
    article_id: int
    article_version: int | None
    incident_id: int
    used_by_id: int | None
    resolved: bool
    used_at: datetime


UsePage = Page[UseRead]
