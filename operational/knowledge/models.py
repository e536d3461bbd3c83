"""The knowledge base: articles (the working copy authors edit), their published versions (what
readers see and search), the uses of articles on incidents, and readers' feedback.

An article's history is in the event log (entity 'knowledge_article').
"""

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from operational.auth.models import User
from operational.core.db import SCHEMA, Base, sql_values
from operational.knowledge.enums import ArticleState, Audience, Language

article_number_seq = Sequence("article_number_seq", schema=SCHEMA, metadata=Base.metadata)

DEFAULT_REVIEW_PERIOD_DAYS = 365


class Article(Base):
    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # KB0001234, from article_number_seq.
    number: Mapped[str] = mapped_column(String(32), unique=True)
    # The working copy: what the next published version will say.
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # Markdown; rendered safely (knowledge/rendering.py)
    category: Mapped[str | None] = mapped_column(String(120), index=True)
    service: Mapped[str | None] = mapped_column(String(200), index=True)
    keywords: Mapped[list[str]] = mapped_column(
        ARRAY(String(120)), default=list, server_default="{}"
    )
    audience: Mapped[str] = mapped_column(String(16), default=Audience.agents.value)
    language: Mapped[str] = mapped_column(String(32), default=Language.english.value)
    state: Mapped[str] = mapped_column(String(16), default=ArticleState.draft.value, index=True)

    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who created it
    # Who last edited the working copy: a reviewer may not approve their own revision.
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    current_version: Mapped[int | None] = mapped_column(Integer)  # last published version
    first_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Out of date when the last publication is older than this (the marts list those).
    review_period_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_REVIEW_PERIOD_DAYS, server_default=str(DEFAULT_REVIEW_PERIOD_DAYS)
    )

    # Where a draft started from (docs/knowledge.md, "From ticket to article").
    source_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL")
    )
    source_problem_id: Mapped[int | None] = mapped_column(
        ForeignKey("problems.id", ondelete="SET NULL")
    )

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Optimistic concurrency: updates must name the version they read (If-Match), else 412.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")
    editor: Mapped[User | None] = relationship(foreign_keys=[editor_id], lazy="joined")

    __table_args__ = (
        CheckConstraint(f"state in ({sql_values(ArticleState)})", name="known_state"),
        CheckConstraint(f"audience in ({sql_values(Audience)})", name="known_audience"),
        CheckConstraint(f"language in ({sql_values(Language)})", name="known_language"),
        CheckConstraint("review_period_days > 0", name="review_period_positive"),
    )


class ArticleVersion(Base):
    """One published version, kept for ever: its content as approved, who wrote and who approved
    it. The current one (``is_current``) is what readers see and search; retiring the article
    leaves none current."""

    __tablename__ = "knowledge_article_versions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the article
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # The body as a reader sees it, without Markdown syntax: searched and quoted in snippets.
    body_text: Mapped[str] = mapped_column(Text, deferred=True)
    category: Mapped[str | None] = mapped_column(String(120))
    service: Mapped[str | None] = mapped_column(String(200))
    keywords: Mapped[list[str]] = mapped_column(ARRAY(String(120)))
    audience: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    review_comment: Mapped[str | None] = mapped_column(Text)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Stemmed by the version's own language; written once, when the version is published
    # (knowledge/search.py, ``document_vector``).
    search_vector: Mapped[str] = mapped_column(TSVECTOR, deferred=True)

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="joined")

    __table_args__ = (
        UniqueConstraint("article_id", "number"),
        CheckConstraint(f"audience in ({sql_values(Audience)})", name="known_audience"),
        CheckConstraint(f"language in ({sql_values(Language)})", name="known_language"),
        # Search reads only current versions: the index holds only them.
        Index(
            "ix_knowledge_article_versions_search_vector",
            "search_vector",
            postgresql_using="gin",
            postgresql_where="is_current",
        ),
        # The languages in use, found by a loose index scan (knowledge/search.py).
        Index(
            "ix_knowledge_article_versions_language",
            "language",
            postgresql_where="is_current",
        ),
        Index(
            "uq_knowledge_article_versions_current",
            "article_id",
            unique=True,
            postgresql_where="is_current",
        ),
    )


class ArticleUse(Base):
    """An article that helped with an incident (``resolved``: the agent resolved it with it)."""

    __tablename__ = "knowledge_article_uses"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="CASCADE"), index=True
    )
    article_version: Mapped[int | None] = mapped_column(Integer)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("article_id", "incident_id"),)


class ArticleFeedback(Base):
    """A reader's verdict on an article: one per reader, changeable."""

    __tablename__ = "knowledge_feedback"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="CASCADE"), index=True
    )
    article_version: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("article_id", "user_id"),)
