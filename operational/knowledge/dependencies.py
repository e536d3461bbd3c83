"""Lookups that 404, and the editors-only check. The If-Match precondition is in
operational.core.concurrency."""

from typing import Annotated

from fastapi import Depends, Path

from operational.auth.dependencies import CurrentUser
from operational.core.db import DbSession
from operational.core.errors import Forbidden
from operational.knowledge import service
from operational.knowledge.models import Article


def _current_article(
    session: DbSession,
    user: CurrentUser,
    article_id: Annotated[str, Path(max_length=32, description="Id or number (KB0000042)")],
) -> Article:
    """The article by id or number. One with no published version a reader may read is a 404
    to that reader, exactly like a missing one."""
    article = service.get_by_reference(session=session, reference=article_id)
    if not service.is_editor(user):
        service.readable_version(session=session, article=article, viewer=user)
    return article


CurrentArticle = Annotated[Article, Depends(_current_article)]


def ensure_editor(user: CurrentUser) -> None:
    if not service.is_editor(user):
        raise Forbidden(
            "Only knowledge editors (knowledge:write or knowledge:approve) see this",
            permission="knowledge:write",
        )
