"""The CMDB's rule against loops, over relationships held in memory (no database).

A relationship ``source <type> target`` of a type that forbids loops (``ACYCLIC_TYPES``) is
refused when its target already reaches its source through relationships of that type; a CI
related to itself is the shortest such loop. The service asks the database this of one new
relationship (a recursive query under a lock); ingest's bulk loader asks it of a whole file at
once, over the part of the graph it has read, with these functions.
"""

from collections.abc import Iterable
from typing import TypeVar

# CI id -> the ids of the CIs its relationships (of one type) point at.
Graph = dict[int, set[int]]
Key = TypeVar("Key")


def reaches(graph: Graph, start: int, goal: int) -> bool:
    """Whether `goal` is `start` or can be reached from it."""
    seen, frontier = {start}, [start]
    while frontier:
        node = frontier.pop()
        if node == goal:
            return True
        for following in graph.get(node, ()):
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return False


def add_without_loops(graph: Graph, relationships: Iterable[tuple[Key, int, int]]) -> list[Key]:
    """Take `(key, source, target)` relationships in order, as the API takes them one by one:
    each that closes no loop is added to `graph`. Returns the keys of those refused."""
    refused: list[Key] = []
    for key, source, target in relationships:
        if reaches(graph, target, source):
            refused.append(key)
        else:
            graph.setdefault(source, set()).add(target)
    return refused
