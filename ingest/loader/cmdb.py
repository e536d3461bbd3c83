"""Configuration items and their relationships, refused where the CMDB's own rules refuse them:
attributes that break their class's schema, relationships that would close a loop."""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest import rejects
from ingest.loader import copying
from ingest.loader.report import REFUSAL_SCHEMA, EntityCounts, LoadReport, refuse
from operational.cmdb import graph as cmdb_graph


def load_configuration_items(
    session: Session, cis: pl.DataFrame, report: LoadReport
) -> EntityCounts:
    """CIs upsert on (source system, external id). Their attributes are checked against their
    class's schema by the CMDB's own check (`cmdb.service.attribute_errors`), as the API does;
    a CI whose attributes break it is refused. A class the CMDB does not know is created with
    an empty schema (which accepts any attributes)."""
    copying.stage(session, "stage_cis", cis.with_row_index("_row").cast({"_row": pl.Int64}))
    session.execute(
        text(
            """
            insert into operational.ci_classes (name, label, attribute_schema)
            select distinct left(ci_class, 64), left(ci_class, 120), '{}'::jsonb from stage_cis
            on conflict (name) do nothing
            """
        )
    )
    refused = _refuse_invalid_attributes(session, cis, report)
    copying.upsert_teams(session, "select owner_group from stage_cis")
    source = """
        select s.source_system, left(s.external_id, 200) as external_id,
            left(s.name, 200) as name, class.id as class_id,
            coalesce(s.status, 'in_service') as status,
            coalesce(s.environment, 'production') as environment, team.id as owner_team_id,
            left(s.location, 200) as location, coalesce(s.criticality, 3) as criticality,
            coalesce(s.attributes::jsonb, '{}'::jsonb) as attributes
        from stage_cis s
        join operational.ci_classes class on class.name = left(s.ci_class, 64)
        left join operational.teams team on team.name = left(s.owner_group, 200)
        where s._row <> all(cast(:refused as bigint[]))
    """
    columns = (
        "name",
        "class_id",
        "status",
        "environment",
        "owner_team_id",
        "location",
        "criticality",
        "attributes",
    )
    target = ", ".join(columns)
    values = ", ".join(f"src.{column}" for column in columns)
    updated = copying.count(
        session,
        f"""
        with src as ({source})
        update operational.configuration_items c
        set ({target}) = ({values}), version = c.version + 1, updated_at = now()
        from src
        where c.source_system = src.source_system and c.external_id = src.external_id
          and ({", ".join(f"c.{column}" for column in columns)}) is distinct from ({values})
        """,
        refused=refused,
    )
    inserted_ids = (
        session.execute(
            text(
                f"""
            with src as ({source})
            insert into operational.configuration_items (source_system, external_id, {target})
            select src.source_system, src.external_id, {values} from src
            where not exists (
                select 1 from operational.configuration_items c
                where c.source_system = src.source_system and c.external_id = src.external_id
            )
            returning id
            """
            ),
            {"refused": refused},
        )
        .scalars()
        .all()
    )
    copying.append_created_events(session, "ci", "configuration_items", list(inserted_ids))
    return EntityCounts(
        loaded=len(inserted_ids),
        updated=updated,
        unchanged=cis.height - len(refused) - len(inserted_ids) - updated,
        refused=len(refused),
    )


def _refuse_invalid_attributes(
    session: Session, cis: pl.DataFrame, report: LoadReport
) -> list[int]:
    """The rows (their index in `cis`) whose attributes are not a JSON object or break their
    class's schema; recorded as rejects. Each distinct (class, attributes) is checked once."""
    from operational.cmdb.service import attribute_errors

    schemas = dict(
        session.execute(
            text(
                "select name, attribute_schema from operational.ci_classes where name = any(:names)"
            ),
            {"names": cis.get_column("ci_class").str.slice(0, 64).unique().to_list()},
        ).all()
    )
    checked = cis.with_row_index("_row").select(
        pl.col("_row").cast(pl.Int64),
        pl.col("ci_class").str.slice(0, 64).alias("class"),
        pl.col("attributes").fill_null("{}"),
        "external_id",
    )
    problems: dict[tuple[str, str], str | None] = {}
    for ci_class, attributes in checked.select("class", "attributes").unique().iter_rows():
        try:
            value = json.loads(attributes)
        except ValueError:
            problems[(ci_class, attributes)] = "not valid JSON"
            continue
        if not isinstance(value, dict):
            problems[(ci_class, attributes)] = "not a JSON object"
            continue
        errors = attribute_errors(schemas.get(ci_class) or {}, value)
        problems[(ci_class, attributes)] = (
            f"class {ci_class!r}: {errors[0]['path']}: {errors[0]['message']}" if errors else None
        )
    bad = [
        (row, attributes, external_id, problems[(ci_class, attributes)])
        for row, ci_class, attributes, external_id in checked.iter_rows()
        if problems[(ci_class, attributes)] is not None
    ]
    if bad:
        report.refusals.append(
            pl.DataFrame(
                {
                    "entity": "configuration_items",
                    "_row": [row for row, *_ in bad],
                    "column": "attributes",
                    "reason": rejects.INVALID_ATTRIBUTES,
                    "value": [attributes for _, attributes, *_ in bad],
                    "external_id": [external_id for *_, external_id, _ in bad],
                    "detail": [problem for *_, problem in bad],
                },
                schema=REFUSAL_SCHEMA,
            )
        )
    return [row for row, *_ in bad]


CI_BY_KEY = """
    (select c.id from operational.configuration_items c
     where c.external_id = left({column}, 200)
     order by (c.source_system = {source}) desc, c.id limit 1)
"""


def load_ci_relationships(
    session: Session, relationships: pl.DataFrame, report: LoadReport
) -> EntityCounts:
    """Relationships find their CIs by external id (preferring the same source system). As in
    the API, one that would close a loop where its type forbids loops is refused: the rows
    are taken in file order and a row is refused when its target already reaches its source.
    Each new relationship is logged on both CIs (`relationship_added`)."""
    from operational.cmdb.enums import ACYCLIC_TYPES

    copying.stage(
        session,
        "stage_relationships",
        relationships.with_row_index("_row").cast({"_row": pl.Int64}),
    )
    copying.temp_table(
        session,
        "resolved_relationships",
        f"""
        select s._row, s.source_system, s.relationship_type as type, s.ci_external_id,
            s.related_ci_external_id,
            {CI_BY_KEY.format(column="s.ci_external_id", source="s.source_system")} as source_ci,
            {CI_BY_KEY.format(column="s.related_ci_external_id", source="s.source_system")}
                as target_ci
        from stage_relationships s
        """,
    )
    refused = refuse(
        session,
        report,
        entity="ci_relationships",
        rows_sql="select _row, ci_external_id, ci_external_id from resolved_relationships "
        "where source_ci is null",
        column="ci_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail="no CI with this id",
    )
    refused += refuse(
        session,
        report,
        entity="ci_relationships",
        rows_sql="select _row, related_ci_external_id, ci_external_id from resolved_relationships "
        "where source_ci is not null and target_ci is null",
        column="related_ci_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail="no CI with this id",
    )
    refused += refuse(
        session,
        report,
        entity="ci_relationships",
        rows_sql="select _row, related_ci_external_id, ci_external_id from resolved_relationships "
        "where source_ci = target_ci",
        column="related_ci_external_id",
        reason=rejects.CYCLE,
        detail="a CI cannot be related to itself",
    )
    # The rows that are new: known CIs, not yet related so, first of their duplicates.
    copying.temp_table(
        session,
        "new_relationships",
        """
        select distinct on (source_ci, type, target_ci) _row, source_system, type, source_ci,
            target_ci, ci_external_id
        from resolved_relationships r
        where source_ci is not null and target_ci is not null and source_ci <> target_ci
          and not exists (
            select 1 from operational.ci_relationships e
            where e.source_ci_id = r.source_ci and e.type = r.type and e.target_ci_id = r.target_ci
          )
        order by source_ci, type, target_ci, _row
        """,
    )
    cycles = _closing_cycles(session, sorted(kind.value for kind in ACYCLIC_TYPES))
    if cycles:
        refused += refuse(
            session,
            report,
            entity="ci_relationships",
            rows_sql="select n._row, n.type, n.ci_external_id from new_relationships n "
            f"where n._row in ({', '.join(str(row) for row in cycles)})",
            column="relationship_type",
            reason=rejects.CYCLE,
            detail="it would close a loop of this type",
        )
        session.execute(
            text("delete from new_relationships where _row = any(cast(:rows as bigint[]))"),
            {"rows": cycles},
        )
    added = (
        session.execute(
            text(
                """
            insert into operational.ci_relationships (source_ci_id, type, target_ci_id,
                source_system)
            select source_ci, type, target_ci, source_system from new_relationships
            on conflict (source_ci_id, type, target_ci_id) do nothing
            returning id
            """
            )
        )
        .scalars()
        .all()
    )
    if added:
        copying.temp_table(
            session,
            "stage_appends",
            """
            select 'ci'::text as entity_type, ends.ci_id as entity_id,
                'relationship:' || r.id || ':' || ends.role as import_key, r.id as ord,
                r.created_at as occurred_at, null::bigint as actor_id,
                'import'::text as actor_label,
                'relationship_added'::text as kind, 'relationship'::text as field,
                null::text as old_value,
                source.name || ' ' || r.type || ' ' || target.name as new_value,
                jsonb_build_object('relationship_id', r.id, 'type', r.type,
                    'source_ci_id', r.source_ci_id, 'target_ci_id', r.target_ci_id,
                    'role', ends.role)::text as data,
                r.source_system, false as synthesized
            from operational.ci_relationships r
            join operational.configuration_items source on source.id = r.source_ci_id
            join operational.configuration_items target on target.id = r.target_ci_id
            cross join lateral (values (r.source_ci_id, 'source'), (r.target_ci_id, 'target'))
                as ends(ci_id, role)
            where r.id = any(cast(:ids as bigint[]))
            """,
            ids=list(added),
        )
        copying.append_events(session)
    return EntityCounts(
        loaded=len(added),
        unchanged=relationships.height - refused - len(added),
        refused=refused,
    )


def _closing_cycles(session: Session, acyclic_types: list[str]) -> list[int]:
    """The rows of `new_relationships` to refuse because they would close a loop.

    Set-based first: one recursive walk from the targets of all new relationships of a type
    that forbids loops, over the stored and the new relationships of that type. When no new
    relationship's source is reached, none closes a loop (the usual case). Otherwise the rows
    of the types concerned are replayed in file order over the part of the graph the walk
    reached, through the CMDB's own rule (`operational.cmdb.graph`), as the API would have
    taken them one by one.
    """
    reached = session.execute(
        text(
            """
            with recursive edges as (
                select source_ci_id as source, type, target_ci_id as target
                from operational.ci_relationships where type = any(:types)
                union all
                select source_ci, type, target_ci from new_relationships
                where type = any(:types)
            ),
            reach(type, ci_id) as (
                select distinct type, target_ci from new_relationships where type = any(:types)
                union
                select e.type, e.target from reach r
                join edges e on e.source = r.ci_id and e.type = r.type
            )
            select type, array_agg(ci_id) from reach
            where type in (
                select n.type from new_relationships n
                join reach r on r.type = n.type and r.ci_id = n.source_ci
            )
            group by type
            """
        ),
        {"types": acyclic_types},
    ).all()
    refused: list[int] = []
    for kind, nodes in reached:
        graph: cmdb_graph.Graph = {}
        for source, target in session.execute(
            text(
                "select source_ci_id, target_ci_id from operational.ci_relationships "
                "where type = :type and source_ci_id = any(cast(:nodes as bigint[]))"
            ),
            {"type": kind, "nodes": nodes},
        ):
            graph.setdefault(source, set()).add(target)
        rows = session.execute(
            text(
                "select _row, source_ci, target_ci from new_relationships where type = :type "
                "order by _row"
            ),
            {"type": kind},
        ).all()
        refused += cmdb_graph.add_without_loops(graph, rows)
    return refused
