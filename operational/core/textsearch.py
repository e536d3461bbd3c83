"""PostgreSQL full-text search, the pieces every searching domain shares: the query from what a
person typed, the "shares some of these words" query that suggestions use, ranking, and
highlighted snippets that are safe to show as HTML.

``config`` is a text search configuration (``english``, ``german``, ...): a literal name, or an
expression naming one per row.
"""

import html
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, cast, func, literal
from sqlalchemy import text as text_sql
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.orm import Session

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


# Suggestions weigh a ticket's first words: at most this many, in the order written.
SHARED_WORDS_MAX = 8


def _lexeme(word: str) -> str:
    """A lexeme quoted for to_tsquery: backslashes and quotes doubled."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


# The text's first SHARED_WORDS_MAX words stemmed by ``config`` (an SQL expression naming it), in
# the order written: a column expression for statements that stem for several configurations at
# once (``:text`` is the ticket's text).
FIRST_WORDS_SQL = (
    "array(select w.lexeme from unnest(to_tsvector(cast({config} as regconfig), :text)) as w"
    f" order by w.positions[1] limit {SHARED_WORDS_MAX})"
)
_FIRST_WORDS = text_sql(
    f"select c.config, {FIRST_WORDS_SQL.format(config='c.config')}"
    " from unnest(cast(:configs as text[])) as c(config)"
)
# session.info key: {(config, text): its first words}, so that the several searches one request
# runs over the same text (articles in each language, known errors) stem it once, together.
_STEMMED = "textsearch.first_words"


def remember_first_words(session: Session, text: str, found: Iterable[tuple[str, Any]]) -> None:
    """Keep (config, first words) that a statement of the caller's computed for ``text`` with
    ``FIRST_WORDS_SQL``: ``shared_words_query`` then needs no statement of its own for them."""
    stemmed = session.info.setdefault(_STEMMED, {})
    for config, words in found:
        stemmed[(config, text)] = tuple(words or ())


def first_words(session: Session, configs: Iterable[str], text: str) -> dict[str, tuple[str, ...]]:
    """The text's first words stemmed by each config: one statement for all the configs not
    stemmed yet in this session, none when all were."""
    stemmed = session.info.setdefault(_STEMMED, {})
    wanted = list(dict.fromkeys(configs))
    missing = [config for config in wanted if (config, text) not in stemmed]
    if missing:
        remember_first_words(
            session, text, session.execute(_FIRST_WORDS, {"configs": missing, "text": text})
        )
    return {config: stemmed[(config, text)] for config in wanted}


def shared_words_query(session: Session, config: str, text: str) -> ColumnElement[Any] | None:
    """Documents sharing at least two of the text's words (its first ``SHARED_WORDS_MAX``,
    stemmed by ``config``), or its one word: what suggestions match a ticket by. A ticket
    rarely shares all its words with the answer, and one shared word alone matches a large part
    of a big knowledge base. None when the text has no searchable word."""
    words = first_words(session, (config,), text)[config]
    if not words:
        return None
    if len(words) == 1:
        expression = _lexeme(words[0])
    else:
        expression = " | ".join(
            f"({_lexeme(first)} & {_lexeme(second)})"
            for index, first in enumerate(words)
            for second in words[index + 1 :]
        )
    # The words are stemmed already: 'simple' reads them as they are.
    return func.to_tsquery(regconfig("simple"), expression)


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
