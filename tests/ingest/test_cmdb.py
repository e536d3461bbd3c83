"""CIs and relationships through the generic mapping: the CMDB's own checks (class attribute
schemas, loops where a relationship type forbids them), with refusals in the rejects report."""

import csv

import pytest
from sqlalchemy import text

from ingest import loader, sources


def refused(directory, name: str) -> list[tuple[str, str, str]]:
    with (directory / f"{name}.rejects.csv").open() as handle:
        return [(row["line"], row["reason"], row["detail"]) for row in csv.DictReader(handle)]


def relationships(session) -> set[tuple[str, str, str]]:
    rows = session.execute(
        text(
            """
            select source.external_id, r.type, target.external_id
            from operational.ci_relationships r
            join operational.configuration_items source on source.id = r.source_ci_id
            join operational.configuration_items target on target.id = r.target_ci_id
            """
        )
    ).all()
    return {tuple(row) for row in rows}


@pytest.fixture
def cis(session, fixtures, tmp_path):
    parsed = sources.parse(
        "generic", fixtures / "cmdb_checks_cis.csv", mapping=fixtures / "cmdb_checks_cis.yaml"
    )
    return loader.load(parsed, engine=session.connection(), rejects_dir=tmp_path)


def test_attributes_are_checked_against_their_class(session, cis, tmp_path):
    assert (cis.counts["configuration_items"].loaded, cis.rejected) == (7, 3)
    assert refused(tmp_path, "cmdb_checks_cis.csv") == [
        ("6", "invalid_attributes", "class 'database': engine: 'excel' is not one of "
         "['postgresql', 'mysql', 'mariadb', 'oracle', 'sqlserver', 'mongodb', 'redis', 'other']"),
        ("7", "invalid_attributes", "class 'server': (attributes): 'hostname' is a required "
         "property"),
        ("11", "invalid_attributes", "not valid JSON"),
    ]  # fmt: skip
    stored = dict(
        session.execute(
            text("select external_id, attributes from operational.configuration_items")
        ).all()
    )
    assert set(stored) == {"A", "B", "C", "D", "G", "H", "I"}
    # A class the CMDB does not know is created with an empty schema, which accepts anything.
    assert stored["I"] == {"anything": True}


def test_relationships_that_would_loop_are_refused_in_file_order(session, cis, fixtures, tmp_path):
    parsed = sources.parse(
        "generic",
        fixtures / "cmdb_checks_relationships.csv",
        mapping=fixtures / "cmdb_checks_relationships.yaml",
    )
    report = loader.load(parsed, engine=session.connection(), rejects_dir=tmp_path)
    counts = report.counts["ci_relationships"]
    assert (counts.loaded, counts.refused, counts.unchanged) == (5, 3, 1)
    assert relationships(session) == {
        ("A", "depends_on", "B"),
        ("B", "depends_on", "C"),
        ("C", "runs_on", "D"),
        ("G", "connects_to", "H"),
        ("H", "connects_to", "G"),  # network links may loop
    }
    assert refused(tmp_path, "cmdb_checks_relationships.csv") == [
        ("4", "cycle", "it would close a loop of this type"),  # C depends_on A: A -> B -> C
        ("8", "cycle", "a CI cannot be related to itself"),
        ("9", "unknown_reference", "no CI with this id"),  # Z
    ]
    # Each new relationship is in the history of both its CIs, as the API writes it.
    logged = session.execute(
        text(
            """
            select c.external_id, e.new_value, e.data ->> 'role'
            from operational.events e join operational.configuration_items c on c.id = e.entity_id
            where e.entity_type = 'ci' and e.kind = 'relationship_added' order by 1, 3
            """
        )
    ).all()
    assert [tuple(row) for row in logged if row[0] in ("A", "B")] == [
        ("A", "app-a depends_on app-b", "source"),
        ("B", "app-b depends_on db-c", "source"),
        ("B", "app-a depends_on app-b", "target"),
    ]
    again = loader.load(parsed, engine=session.connection())
    assert again.counts["ci_relationships"].loaded == 0
    assert session.scalar(
        text("select count(*) from operational.events where kind = 'relationship_added'")
    ) == len(logged)


def test_a_later_file_cannot_close_a_loop_through_stored_relationships(
    session, cis, fixtures, tmp_path
):
    bind = session.connection()
    mapping = fixtures / "cmdb_checks_relationships.yaml"
    loader.load(
        sources.parse("generic", fixtures / "cmdb_checks_relationships.csv", mapping=mapping),
        engine=bind,
    )
    later = tmp_path / "later.csv"
    later.write_text("ci,type,related\nC,depends_on,B\nD,depends_on,A\n")
    report = loader.load(sources.parse("generic", later, mapping=mapping), engine=bind)
    assert (report.counts["ci_relationships"].loaded, report.rejected) == (1, 1)
    assert ("D", "depends_on", "A") in relationships(session)  # runs_on D is another type
    assert ("C", "depends_on", "B") not in relationships(session)  # B depends_on C is stored
