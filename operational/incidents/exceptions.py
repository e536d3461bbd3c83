from operational.core.errors import Conflict, UnprocessableEntity
from operational.core.surveys import SurveyAlreadyAnswered, SurveyExpired

__all__ = ["AssigneeNotInTeam", "ReopenWindowClosed", "SurveyAlreadyAnswered", "SurveyExpired"]


class ReopenWindowClosed(Conflict):
    slug, title = "reopen-window-closed", "Reopen window has passed"


class AssigneeNotInTeam(UnprocessableEntity):
    slug, title = "assignee-not-in-team", "Assignee is not a member of the team"
