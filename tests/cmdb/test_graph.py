"""The loop rule over relationships held in memory, as ingest applies it to a whole file."""

from operational.cmdb import graph


def test_relationships_are_taken_in_order_and_those_closing_a_loop_refused():
    stored = {1: {2}}  # 1 -> 2 is in the database already
    refused = graph.add_without_loops(
        stored,
        [
            ("a", 2, 3),  # 1 -> 2 -> 3
            ("b", 3, 1),  # would close 1 -> 2 -> 3 -> 1
            ("c", 4, 4),  # a CI related to itself
            ("d", 3, 4),  # fine: 4 does not reach 3 (c was refused)
            ("e", 4, 2),  # would close 2 -> 3 -> 4 -> 2
        ],
    )
    assert refused == ["b", "c", "e"]
    assert stored == {1: {2}, 2: {3}, 3: {4}}
    assert graph.reaches(stored, 1, 4)
    assert not graph.reaches(stored, 4, 1)
