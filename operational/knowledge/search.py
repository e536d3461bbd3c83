"""Full-text search over the published knowledge base: the current version of each article,
stemmed by its own language.

A version's ``search_vector`` is written once, when it is published (``document_vector``): its
title and keywords weigh most (A), its text next (B). A query is stemmed once per language and
each article is matched by the query of its own language, so "printers" finds "printer" in an
English article and "Drucker" finds "Druckers" in a German one.
"""

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, case, func, literal, literal_column, select
from sqlalchemy import text as text_sql
from sqlalchemy.orm import Session, lazyload

from operational.core import textsearch
from operational.knowledge.enums import Language
from operational.knowledge.models import Article, ArticleVersion

# A hit is read for its own columns only: not its author's and approver's rows (joined by
# default, each with their roles and teams loaded after).
LEAN = lazyload("*")

_WEIGHT_A, _WEIGHT_B = literal_column("'A'::\"char\""), literal_column("'B'::\"char\"")


def document_vector(
    language: str | ColumnElement[Any],
    title: str | ColumnElement[Any],
    keywords: list[str] | ColumnElement[Any],
    body_text: str | ColumnElement[Any],
) -> ColumnElement[Any]:
    """The search vector of a version, from values or columns (the benchmark's bulk insert
    uses the same expression)."""
    config = textsearch.regconfig(language)
    words = (
        literal(" ".join(keywords))
        if isinstance(keywords, list)
        else func.array_to_string(keywords, " ")
    )
    return (
        func.setweight(func.to_tsvector(config, title), _WEIGHT_A)
        .op("||")(func.setweight(func.to_tsvector(config, words), _WEIGHT_A))
        .op("||")(func.setweight(func.to_tsvector(config, body_text), _WEIGHT_B))
    )


@dataclass(frozen=True)
class ArticleFilters:
    audiences: tuple[str, ...]  # those the reader may see
    languages: tuple[str, ...] = ()  # default: every language the published articles use
    category: str | None = None
    service: str | None = None
    keyword: str | None = None
    published_from: datetime | None = None


@dataclass(frozen=True)
class ArticleHit:
    version: ArticleVersion
    article_number: str
    rank: float
    snippet: str | None


_LANGUAGES_IN_USE_SQL = """
    with recursive used(language) as (
        (select language from operational.knowledge_article_versions
         where is_current order by language limit 1)
        union all
        select (select v.language from operational.knowledge_article_versions v
                where v.is_current and v.language > used.language
                order by v.language limit 1)
        from used where used.language is not null
    )
    select language{words} from used where language is not null
"""
_LANGUAGES_IN_USE = text_sql(_LANGUAGES_IN_USE_SQL.format(words=""))
# The same, with the ticket's first words stemmed in each of them (suggestions): one statement.
_LANGUAGES_IN_USE_WITH_WORDS = text_sql(
    _LANGUAGES_IN_USE_SQL.format(words=", " + textsearch.FIRST_WORDS_SQL.format(config="language"))
)


def languages_in_use(*, session: Session, stem: str | None = None) -> tuple[str, ...]:
    """The languages of the current versions: one index probe per language (a loose index
    scan), so a query is stemmed only in the languages there are articles in. With ``stem``,
    the same statement stems that text's first words in each of them for
    ``textsearch.shared_words_query``."""
    known = {language.value for language in Language}
    if stem is None:
        return tuple(found for found in session.scalars(_LANGUAGES_IN_USE) if found in known)
    rows = [
        (language, words)
        for language, words in session.execute(_LANGUAGES_IN_USE_WITH_WORDS, {"text": stem})
        if language in known
    ]
    textsearch.remember_first_words(session, stem, rows)
    return tuple(language for language, _ in rows)


def _query_for(
    session: Session, language: str, text: str, shared_words: bool
) -> ColumnElement[Any] | None:
    if shared_words:
        return textsearch.shared_words_query(session, language, text)
    return textsearch.web_query(language, text)


def match_articles(
    *,
    session: Session,
    text: str,
    shared_words: bool,
    limit: int,
    filters: ArticleFilters,
    count: bool = True,
    candidates: int | None = None,
) -> tuple[list[ArticleHit], int]:
    """Current versions matching ``text`` (as a web search, or with ``shared_words`` sharing at
    least two of its words: ``textsearch.shared_words_query``) best first, or with
    no text every one, newest first: up to ``limit`` hits and the number matching in all
    (without ``count``, just the hits': suggestions need no total). ``candidates`` bounds how
    many matches are ranked (the first the index finds): ranking reads each match's vector, so
    a bound keeps a suggestion's cost flat however many articles share two words with it."""
    version = ArticleVersion
    text = text.strip()
    stem = text if shared_words and text else None
    languages = filters.languages or languages_in_use(session=session, stem=stem)
    if not languages:
        return [], 0
    if stem is not None:
        textsearch.first_words(session, languages, stem)  # one statement for them all, if any
    statement = select(version.id).where(
        version.is_current,
        version.audience.in_(filters.audiences),
        version.language.in_(languages),
    )
    for column, value in ((version.category, filters.category), (version.service, filters.service)):
        if value:
            statement = statement.where(func.lower(column) == value.strip().lower())
    if filters.keyword:
        statement = statement.where(any_(version.keywords) == filters.keyword.strip())
    if filters.published_from is not None:
        statement = statement.where(version.approved_at >= filters.published_from)
    queries = {
        language: query
        for language in languages
        if (query := _query_for(session, language, text, shared_words)) is not None
    }
    if text and not queries:
        return [], 0
    newest = (version.approved_at.desc(), version.id.desc())
    if text:
        query_of_row = case(
            *((version.language == language, query) for language, query in queries.items())
        )
        # The index finds the versions matching the query of any language (one GIN scan); each
        # is then held to the query of its own language.
        any_language = functools.reduce(lambda one, other: one.op("||")(other), queries.values())
        statement = statement.where(
            version.search_vector.op("@@")(any_language),
            version.search_vector.op("@@")(query_of_row),
        )
        rank = textsearch.rank(version.search_vector, query_of_row)
    else:
        rank = literal(0.0)
    total = None
    if count:
        total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    if total == 0 or limit <= 0:
        return [], total or 0
    if candidates is not None:
        pool = statement.limit(candidates).subquery()
        statement = select(version.id).join(pool, pool.c.id == version.id)
    top = statement.add_columns(rank.label("rank")).order_by(rank.desc(), *newest).limit(limit)
    ranked = top.subquery()
    snippet: ColumnElement[Any] = literal(None)
    if text:
        snippet = case(
            *(
                (
                    version.language == language,
                    textsearch.headline(language, version.body_text, query),
                )
                for language, query in queries.items()
            )
        )
    rows = session.execute(
        select(version, Article.number, ranked.c.rank, snippet)
        .join(ranked, ranked.c.id == version.id)
        .join(Article, Article.id == version.article_id)
        .order_by(ranked.c.rank.desc(), *newest)
        .options(LEAN)
    ).all()
    hits = [
        ArticleHit(found, number, float(rank), textsearch.safe_snippet(raw))
        for found, number, rank, raw in rows
    ]
    return hits, len(hits) if total is None else total
