from operational.core.errors import Forbidden, NotFound, UnprocessableEntity


class ArticleNotFound(NotFound):
    slug, title = "article-not-found", "Knowledge article not found"


class SelfApproval(Forbidden):
    slug, title = "self-approval", "Reviewer wrote the revision"


class NothingToDraftFrom(UnprocessableEntity):
    slug, title = "nothing-to-draft-from", "The ticket has no resolution to write up"
