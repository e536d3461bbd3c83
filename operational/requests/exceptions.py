from operational.core.errors import Conflict, Forbidden, UnprocessableEntity


class InvalidOrderForm(UnprocessableEntity):
    """The answers do not satisfy the item's form; ``errors`` names each wrong field."""

    slug, title = "invalid-order-form", "The order form is not filled in correctly"


class InvalidFormSchema(UnprocessableEntity):
    slug, title = "invalid-form-schema", "The form is not a valid JSON Schema"


class ItemNotOrderable(UnprocessableEntity):
    slug, title = "item-not-orderable", "This item cannot be ordered"


class SelfApproval(Forbidden):
    slug, title = "self-approval", "Nobody approves their own request"


class NotYourApproval(Forbidden):
    slug, title = "not-your-approval", "This approval is not yours to decide"


class ApprovalAlreadyDecided(Conflict):
    slug, title = "approval-decided", "This approval has been decided"


class NoApprover(UnprocessableEntity):
    slug, title = "no-approver", "The approval policy finds nobody to approve"
