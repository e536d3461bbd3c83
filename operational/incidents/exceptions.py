from operational.core.errors import Conflict, DomainError, UnprocessableEntity


class ReopenWindowClosed(Conflict):
    slug, title = "reopen-window-closed", "Reopen window has passed"


class AssigneeNotInTeam(UnprocessableEntity):
    slug, title = "assignee-not-in-team", "Assignee is not a member of the team"


class SurveyAlreadyAnswered(Conflict):
    slug, title = "survey-answered", "Survey already answered"


class SurveyExpired(DomainError):
    status, slug, title = 410, "survey-expired", "Survey no longer open"
