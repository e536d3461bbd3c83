from operational.core.errors import Conflict, DomainError, NotFound


class InvalidSignature(DomainError):
    """The webhook's HMAC does not match its body (no WWW-Authenticate: it is not a bearer)."""

    status, slug, title = 401, "invalid-signature", "Invalid signature"


class UnknownSource(NotFound):
    slug, title = "unknown-source", "No such inbound source"


class SourceNameTaken(Conflict):
    slug, title = "source-name-taken", "Inbound source name taken"
