"""Problems and the incidents' links to them.

A problems export (generic mapping, Jira's problem issues) is upserted like changes. Incidents
name their problem in `problem_ref` (ServiceNow's problem_id, a Jira link to a problem issue):
after each ticket batch, every reference becomes a link (`incidents.problem_id`), and a
reference to a problem the export did not hold becomes a problem of its own, titled by the
reference, open, opened when its first incident was. Each link is an event on both records, as
the API writes them.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.loader import copying
from ingest.loader.cmdb import CI_BY_KEY
from ingest.loader.report import EntityCounts
from operational.problems.enums import ProblemState

_PROBLEM_COLUMNS = (
    "title",
    "description",
    "state",
    "service",
    "category",
    "root_cause_ci_id",
    "impact",
    "urgency",
    "priority",
    "assignment_group_id",
    "owner_id",
    "symptom",
    "root_cause",
    "root_cause_category",
    "workaround",
    "fix_notes",
    "known_error",
    "known_error_at",
    "opened_at",
    "root_cause_at",
    "resolved_at",
    "closed_at",
    "custom_fields",
)
_NUMBER = "'PRB' || lpad(nextval('operational.problem_number_seq')::text, 7, '0')"


def _matrix() -> dict[int, int]:
    from operational.tickets.priority import matrix

    return {
        impact * 10 + urgency: priority
        for impact, row in enumerate(matrix(), start=1)
        for urgency, priority in enumerate(row, start=1)
    }


def _with_priority(problems: pl.DataFrame) -> pl.DataFrame:
    impact = pl.col("impact").fill_null(3)
    urgency = pl.col("urgency").fill_null(3)
    by_matrix = (impact.cast(pl.Int32) * 10 + urgency).replace_strict(
        _matrix(), return_dtype=pl.Int8
    )
    return problems.with_columns(
        impact.alias("impact"),
        urgency.alias("urgency"),
        pl.coalesce("priority", by_matrix).alias("priority"),
    )


def load_problems(session: Session, problems: pl.DataFrame, source_system: str) -> EntityCounts:
    copying.stage(session, "stage_problems", _with_priority(problems))
    copying.upsert_people(session, source_system, "select owner from stage_problems")
    copying.upsert_teams(session, "select assignment_group from stage_problems")
    # A known error keeps a workaround (the table's own rule): without one it is not published.
    source = f"""
        select s.source_system, left(s.external_id, 200) as external_id,
            left(coalesce(s.title, s.number), 300) as title, s.description, s.state,
            left(s.service, 200) as service, left(s.category, 120) as category,
            coalesce({CI_BY_KEY.format(column="s.ci", source="s.source_system")},
                (select c.id from operational.configuration_items c
                 where lower(c.name) = lower(s.ci) order by c.id limit 1)) as root_cause_ci_id,
            s.impact, s.urgency, s.priority, team.id as assignment_group_id,
            owner.id as owner_id, s.symptom, s.root_cause, s.root_cause_category, s.workaround,
            s.fix_notes, coalesce(s.known_error, false) and s.workaround is not null
                as known_error,
            case when coalesce(s.known_error, false) and s.workaround is not null
                 then coalesce(s.known_error_at, s.root_cause_at, s.opened_at) end
                as known_error_at,
            s.opened_at, s.root_cause_at, s.resolved_at, s.closed_at,
            coalesce(s.custom_fields::jsonb, '{{}}'::jsonb) as custom_fields
        from stage_problems s
        {copying.person_join("owner", "owner")}
        left join operational.teams team on team.name = left(s.assignment_group, 200)
    """
    target = ", ".join(_PROBLEM_COLUMNS)
    values = ", ".join(f"src.{column}" for column in _PROBLEM_COLUMNS)
    # The export's custom field values over those the problem has (set here or before).
    merged = values.replace("src.custom_fields", "p.custom_fields || src.custom_fields")
    updated = copying.count(
        session,
        f"""
        with src as ({source})
        update operational.problems p
        set ({target}) = ({merged}), version = p.version + 1, updated_at = now()
        from src
        where p.source_system = src.source_system and p.external_id = src.external_id
          and ({", ".join(f"p.{column}" for column in _PROBLEM_COLUMNS)})
              is distinct from ({merged})
        """,
    )
    inserted = list(
        session.execute(
            text(
                f"""
                with src as ({source})
                insert into operational.problems (number, source_system, external_id, {target},
                    created_at, updated_at)
                select {_NUMBER}, src.source_system, src.external_id, {values},
                    src.opened_at, src.opened_at
                from src
                on conflict (source_system, external_id) do nothing
                returning id
                """
            )
        ).scalars()
    )
    _problem_events(session, inserted)
    return EntityCounts(
        loaded=len(inserted), updated=updated, unchanged=problems.height - len(inserted) - updated
    )


def _problem_events(session: Session, problem_ids: list[int]) -> None:
    """What the API would have logged for a problem, from the row: created, and the state it
    reached (synthesized: the export has no history)."""
    if not problem_ids:
        return
    copying.temp_table(
        session,
        "stage_appends",
        f"""
        select 'problem'::text as entity_type, p.id as entity_id, 'created'::text as import_key,
            0::bigint as ord, p.opened_at as occurred_at, null::bigint as actor_id,
            'import'::text as actor_label, 'created'::text as kind, null::text as field,
            null::text as old_value, p.number as new_value,
            jsonb_build_object('title', p.title, 'state', 'new')::text as data,
            p.source_system, false as synthesized
        from operational.problems p where p.id = any(cast(:ids as bigint[]))
        union all
        select 'problem', p.id, 'state:' || p.state, 1, coalesce(
                case p.state when 'closed' then p.closed_at when 'resolved' then p.resolved_at
                    end, p.root_cause_at, p.opened_at),
            null, 'import', 'state_changed', 'state', '{ProblemState.new.value}', p.state,
            null, p.source_system, true
        from operational.problems p
        where p.id = any(cast(:ids as bigint[])) and p.state <> '{ProblemState.new.value}'
        """,
        ids=problem_ids,
    )
    copying.append_events(session)


def link_problem_refs(
    session: Session, incident_ids: list[int], source_system: str
) -> dict[str, EntityCounts]:
    """Link the incidents to the problems their `problem_ref` names, making a problem of each
    reference that has none yet. Returns the counts of problems made and incidents linked."""
    if not incident_ids:
        return {}
    low = _matrix()[33]
    made = list(
        session.execute(
            text(
                f"""
                insert into operational.problems (number, source_system, external_id, title,
                    state, impact, urgency, priority, opened_at, created_at, updated_at)
                select {_NUMBER}, r.source_system, r.ref, left(r.ref, 300),
                    '{ProblemState.new.value}', 3, 3, :low, r.opened_at, r.opened_at, r.opened_at
                from (
                    select i.source_system, left(btrim(i.problem_ref), 200) as ref,
                        min(i.opened_at) as opened_at
                    from operational.incidents i
                    where i.id = any(cast(:ids as bigint[])) and btrim(i.problem_ref) <> ''
                    group by 1, 2
                ) r
                order by r.ref
                on conflict (source_system, external_id) do nothing
                returning id
                """
            ),
            {"ids": incident_ids, "low": low},
        ).scalars()
    )
    _problem_events(session, made)
    copying.temp_table(
        session,
        "linked_problems",
        """
        select i.id as incident_id, i.number as incident_number, i.opened_at,
            i.source_system, i.problem_id as old_problem_id, p.id as problem_id,
            p.number as problem_number
        from operational.incidents i
        join operational.problems p on p.source_system = i.source_system
            and p.external_id = left(btrim(i.problem_ref), 200)
        where i.id = any(cast(:ids as bigint[])) and i.problem_id is distinct from p.id
        """,
        ids=incident_ids,
    )
    # Batches run at once may link incidents to the same problem: its log is appended in turn.
    session.execute(
        text(
            "select id from operational.problems where id in "
            "(select problem_id from linked_problems) order by id for update"
        )
    )
    linked = copying.count(
        session,
        """
        update operational.incidents i set problem_id = l.problem_id, version = i.version + 1
        from linked_problems l where i.id = l.incident_id
        """,
    )
    copying.temp_table(
        session,
        "stage_appends",
        """
        select 'incident'::text as entity_type, l.incident_id as entity_id,
            'problem:' || l.problem_id as import_key, 0::bigint as ord,
            l.opened_at as occurred_at, null::bigint as actor_id, 'import'::text as actor_label,
            'field_changed'::text as kind, 'problem'::text as field, old.number as old_value,
            l.problem_number as new_value,
            jsonb_build_object('problem_id', l.problem_id,
                'old_problem_id', l.old_problem_id)::text as data,
            l.source_system, true as synthesized
        from linked_problems l
        left join operational.problems old on old.id = l.old_problem_id
        union all
        select 'problem', l.problem_id, 'incident:' || l.incident_id, l.incident_id,
            l.opened_at, null, 'import', 'field_changed', 'incident', null, l.incident_number,
            jsonb_build_object('incident_id', l.incident_id, 'action', 'linked')::text,
            l.source_system, true
        from linked_problems l
        """,
    )
    copying.append_events(session)
    counts = {"problem_links": EntityCounts(loaded=linked)}
    if made:
        counts["problems"] = EntityCounts(loaded=len(made))
    return counts
