from operational.core.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class ChangeNotFound(NotFound):
    slug, title = "change-not-found", "Change not found"


class TemplateNotFound(NotFound):
    slug, title = "change-template-not-found", "Change template not found"


class BlackoutNotFound(NotFound):
    slug, title = "blackout-window-not-found", "Blackout window not found"


class CabRuleNotFound(NotFound):
    slug, title = "cab-rule-not-found", "CAB rule not found"


class ChangeFrozen(Conflict):
    """Plans, window and CIs are what the CAB saw: they change only in new or assess."""

    slug, title = "change-frozen", "Change can no longer be edited"


class ChangeIncomplete(Conflict):
    """The move needs fields the change lacks; ``missing`` names them."""

    slug, title = "change-incomplete", "Change is missing information"


class ScheduleConflict(Conflict):
    """The planned window collides; ``conflicts`` lists each blackout window and change."""

    slug, title = "schedule-conflict", "Change collides with the calendar"


class NothingToDecide(Conflict):
    slug, title = "no-cab-round", "The change is not waiting for a CAB decision"


class AlreadyDecided(Conflict):
    slug, title = "already-decided", "You have already decided in this CAB round"


class SelfApproval(Forbidden):
    """Whoever raised, requested or implements a change cannot decide on it (403, whatever
    their role)."""

    slug, title = "self-approval", "You cannot decide on your own change"


class RetrospectivePending(Conflict):
    slug, title = "retrospective-pending", "The retrospective CAB review is not finished"


class InvalidTemplateUse(UnprocessableEntity):
    slug, title = "invalid-template-use", "Standard changes come from a template"


class InvalidRecurrence(UnprocessableEntity):
    slug, title = "invalid-recurrence", "Recurrence rule not accepted"


class DuplicateTemplate(Conflict):
    slug, title = "duplicate-change-template", "Change template already exists"
