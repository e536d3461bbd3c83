"""Errors that stop an import before anything is loaded (bad rows never do: they are rejects)."""


class IngestError(Exception):
    """Base class for ingest failures."""


class FormatError(IngestError):
    """The file is not the format the caller claimed; nothing was read from it."""

    def __init__(self, path: object, expected: str, problem: str) -> None:
        self.path = path
        self.expected = expected
        self.problem = problem
        super().__init__(f"{path} is not a {expected}: {problem}")


class MappingError(IngestError):
    """A mapping file (generic source, Jira options) is invalid."""


class UnknownSourceError(IngestError):
    """No source module has that name."""
