"""PostgreSQL full-text search, the pieces every searching domain shares: the query from what a
person typed, the "any of these words" query that suggestions use, ranking, and highlighted
snippets that are safe to show as HTML.

``config`` is a text search configuration (``english``, ``german``, ...): a literal name, or an
expression naming one per row.
"""

import html
from typing import Any

from sqlalchemy import ColumnElement, cast, func, literal, select
from sqlalchemy.dialects.postgresql import REGCONFIG

# ts_headline marks matches with these private-use characters, which no article contains on
# purpose; the snippet is escaped first and the markers become <mark> afterwards.
_START, _STOP = "\ue000", "\ue001"
HEADLINE_OPTIONS = (
    f"StartSel={_START}, StopSel={_STOP}, MaxFragments=2, MaxWords=24, MinWords=8, "
    'FragmentDelimiter=" … "'
)
# ts_rank_cd normalization 1|32: divide by 1 + log(document length), then scale to 0..1, so a
# long article matching once does not outrank a short one about exactly that.
RANK_NORMALIZATION = 1 | 32


def regconfig(config: str | ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(literal(config) if isinstance(config, str) else config, REGCONFIG)


def web_query(config: str | ColumnElement[Any], text: str) -> ColumnElement[Any]:
    """What a person typed, read as a web search engine would: words all present, "quoted
    phrases", -excluded words, ``or``."""
    return func.websearch_to_tsquery(regconfig(config), text)


def any_word_query(config: str | ColumnElement[Any], text: str) -> ColumnElement[Any]:
    """Any of the text's words, stemmed by ``config``: for suggestions, where a ticket's title
    shares some words with the answer, rarely all."""
    words = func.unnest(func.tsvector_to_array(func.to_tsvector(regconfig(config), text)))
    joined = select(func.string_agg(func.quote_literal(words.column_valued()), " | "))
    return func.to_tsquery(
        regconfig("simple"), func.coalesce(joined.scalar_subquery(), literal(""))
    )


def rank(vector: ColumnElement[Any], query: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.ts_rank_cd(vector, query, RANK_NORMALIZATION)


def headline(
    config: str | ColumnElement[Any], document: ColumnElement[Any], query: ColumnElement[Any]
) -> ColumnElement[Any]:
    return func.ts_headline(regconfig(config), document, query, HEADLINE_OPTIONS)


def safe_snippet(raw: str | None) -> str | None:
    """A ts_headline fragment as HTML: everything escaped, the matches in <mark>."""
    if raw is None:
        return None
    escaped = html.escape(raw, quote=False)
    return escaped.replace(_START, "<mark>").replace(_STOP, "</mark>")
