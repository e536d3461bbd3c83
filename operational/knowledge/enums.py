from enum import StrEnum


class ArticleState(StrEnum):
    """The lifecycle of an article's working copy (docs/knowledge.md). Readers see the last
    published version whatever the working copy's state, until the article is retired."""

    draft = "draft"
    review = "review"
    published = "published"
    retired = "retired"


class Audience(StrEnum):
    agents = "agents"  # agents only (knowledge:write holders and those who see every incident)
    everyone = "everyone"  # requesters too


class Language(StrEnum):
    """PostgreSQL text search configurations an article may be written in: its words are
    stemmed by that language's rules (``simple``: not stemmed, for codes and mixed text)."""

    english = "english"
    german = "german"
    french = "french"
    spanish = "spanish"
    dutch = "dutch"
    italian = "italian"
    portuguese = "portuguese"
    simple = "simple"


class ReviewDecision(StrEnum):
    approved = "approved"
    rejected = "rejected"


class ResultKind(StrEnum):
    """What a search result or suggestion is."""

    article = "article"
    known_error = "known_error"
