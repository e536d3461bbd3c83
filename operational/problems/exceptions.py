from operational.core.errors import Conflict, NotFound, UnprocessableEntity


class ProblemNotFound(NotFound):
    slug, title = "problem-not-found", "Problem not found"


class ProblemIncomplete(UnprocessableEntity):
    slug, title = "problem-incomplete", "Problem lacks what the move needs"


class ProblemNotResolved(Conflict):
    slug, title = "problem-not-resolved", "Problem not resolved yet"


class ProblemClosed(Conflict):
    slug, title = "problem-closed", "Problem is closed"
