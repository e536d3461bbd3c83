"""The incidents' view of the one priority matrix, which lives below them (``operational.tickets``)
because problems rank by it too."""

from operational.tickets.priority import matrix, priority_for

__all__ = ["matrix", "priority_for"]
