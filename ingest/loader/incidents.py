"""Incidents with their events and comments, the people and teams they name, and CSAT answers.

New tickets are COPYed straight into the incidents table and their events into the log (through
the events service); tickets imported before are staged and updated where a column changed.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.loader import copying
from ingest.loader.report import EntityCounts
from operational.events import service as events_service

# The incident columns an import writes, in COPY order.
_INCIDENT_COLUMNS = (
    "title",
    "description",
    "requester_id",
    "opened_by_id",
    "channel",
    "category",
    "subcategory",
    "service",
    "configuration_item",
    "location",
    "impact",
    "urgency",
    "priority",
    "assignment_group_id",
    "assignee_id",
    "state",
    "hold_reason",
    "resolution_code",
    "resolution_notes",
    "opened_at",
    "resolved_at",
    "closed_at",
    "updated_at",
    "acknowledged_at",
    "first_assignee_id",
    "first_assignment_group_id",
    "first_assigned_at",
    "first_resolved_at",
    "reopen_count",
    "reassignment_count",
    "source_made_sla",
    "problem_ref",
    "change_ref",
    "ci_id",
    "caused_by_change_id",
)
# label column of the canonical frame -> id column of the incident
_PEOPLE = (
    ("requester", "requester_id"),
    ("opened_by", "opened_by_id"),
    ("assignee", "assignee_id"),
    ("_first_assignee", "first_assignee_id"),
)
_GROUPS = (
    ("assignment_group", "assignment_group_id"),
    ("_first_group", "first_assignment_group_id"),
)
LABEL_LENGTH = 200  # users.external_id, teams.name, configuration_items.external_id


def _label(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, LABEL_LENGTH)


def _with_firsts(incidents: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """First response (first public comment or move to in_progress) and first assignee, from
    the full history the export carries."""
    kind, value, when = pl.col("kind"), pl.col("new_value"), pl.col("occurred_at")
    touched = (kind.eq("state_changed") & value.eq("in_progress")) | kind.eq("comment_added")
    assigned = kind.eq("assigned") & value.is_not_null()
    to_person = assigned & pl.col("field").eq("assignee")
    to_group = assigned & pl.col("field").eq("assignment_group")
    resolved = kind.eq("state_changed") & value.eq("resolved")

    def first(condition: pl.Expr, column: pl.Expr) -> pl.Expr:
        # events arrive sorted by ticket and seq, so the first match is the earliest
        return column.filter(condition).first()

    firsts = events.group_by("external_id", maintain_order=True).agg(
        when.filter(touched).min().alias("_acknowledged_at"),
        first(to_person, value).alias("_first_assignee"),
        first(to_group, value).alias("_first_group"),
        first(assigned, when).alias("_first_assigned_at"),
        first(resolved, when).alias("_first_resolved_at"),
    )
    return incidents.join(firsts, on="external_id", how="left", maintain_order="left")


def load_people_and_teams(
    session: Session, incidents: pl.DataFrame, events: pl.DataFrame, source_system: str
) -> None:
    """Every person and group the incidents and their histories name, and each (group, assignee)
    pair of a current ticket as a team membership. Done once per import, before the ticket
    batches, so that parallel batches only read these rows and never wait on each other."""
    assigned = events.filter(pl.col("kind") == "assigned", pl.col("new_value").is_not_null())
    people = pl.concat(
        [
            incidents.select(pl.col(column).alias("label"))
            for column in ("requester", "opened_by", "assignee")
        ]
        + [
            assigned.filter(pl.col("field") == "assignee").select(
                pl.col("new_value").alias("label")
            )
        ]
    )
    groups = pl.concat(
        [
            incidents.select(pl.col("assignment_group").alias("label")),
            assigned.filter(pl.col("field") == "assignment_group").select(
                pl.col("new_value").alias("label")
            ),
        ]
    )
    copying.stage(session, "stage_people", people.drop_nulls().unique())
    copying.stage(session, "stage_groups", groups.drop_nulls().unique())
    copying.stage(
        session,
        "stage_members",
        incidents.select("assignment_group", "assignee").drop_nulls().unique(),
    )
    copying.upsert_people(session, source_system, "select label from stage_people")
    copying.upsert_teams(session, "select label from stage_groups")
    session.execute(
        text(
            """
            insert into operational.team_members (team_id, user_id)
            select distinct team.id, person.id
            from stage_members s
            join operational.teams team on team.name = left(s.assignment_group, 200)
            join operational.users person on person.source_system = :source_system
                and person.external_id = left(s.assignee, 200)
            on conflict do nothing
            """
        ),
        {"source_system": source_system},
    )


def _lookup(session: Session, sql: str, labels: pl.Series, **params) -> tuple[list, list]:
    """(labels, ids) for the distinct non-null `labels` that `sql` (over :labels) finds."""
    distinct = labels.drop_nulls().unique().to_list()
    if not distinct:
        return [], []
    rows = session.execute(text(sql), {"labels": distinct, **params}).all()
    return [row[0] for row in rows], [row[1] for row in rows]


def _resolve(column: str, found: tuple[list, list]) -> pl.Expr:
    labels, ids = found
    return _label(column).replace_strict(labels, ids, default=None, return_dtype=pl.Int64)


def _incident_rows(session: Session, incidents: pl.DataFrame, source_system: str) -> pl.DataFrame:
    """The operational rows of canonical incidents (with their first-touch facts): labels
    become ids, defaults and length limits applied, as the API would store them."""
    from operational.incidents.priority import matrix

    people = _lookup(
        session,
        "select external_id, id from operational.users "
        "where source_system = :source_system and external_id = any(:labels)",
        pl.concat([incidents.select(_label(column)).to_series() for column, _ in _PEOPLE]),
        source_system=source_system,
    )
    teams = _lookup(
        session,
        "select name, id from operational.teams where name = any(:labels)",
        pl.concat([incidents.select(_label(column)).to_series() for column, _ in _GROUPS]),
    )
    # The CI label is a CI's external id (any source system, this one first) or its name.
    cis = _lookup(
        session,
        """
        select label, ci.id from unnest(cast(:labels as text[])) as labels(label)
        cross join lateral (
            select c.id from operational.configuration_items c
            where c.external_id = label or lower(c.name) = lower(label)
            order by c.external_id = label desc, c.source_system = :source_system desc, c.id
            limit 1
        ) ci
        """,
        incidents.select(_label("ci")).to_series(),
        source_system=source_system,
    )
    changes = _lookup(
        session,
        "select external_id, id from operational.changes "
        "where source_system = :source_system and external_id = any(:labels)",
        incidents.select(_label("change_ref")).to_series(),
        source_system=source_system,
    )
    combined = {
        impact * 10 + urgency: priority
        for impact, row in enumerate(matrix(), start=1)
        for urgency, priority in enumerate(row, start=1)
    }
    impact = pl.col("impact").fill_null(2)
    urgency = pl.col("urgency").fill_null(2)
    by_matrix = (impact.cast(pl.Int32) * 10 + urgency).replace_strict(
        combined, return_dtype=pl.Int8
    )
    return incidents.select(
        pl.col("source_system"),
        _label("external_id").alias("external_id"),
        pl.coalesce("title", "number").str.slice(0, 300).alias("title"),
        "description",
        *(_resolve(column, people).alias(target) for column, target in _PEOPLE[:2]),
        pl.col("channel").fill_null("portal"),
        pl.col("category").str.slice(0, 120),
        pl.col("subcategory").str.slice(0, 120),
        _label("service").alias("service"),
        _label("ci").alias("configuration_item"),
        _label("location").alias("location"),
        impact.alias("impact"),
        urgency.alias("urgency"),
        pl.coalesce("priority", by_matrix).alias("priority"),
        _resolve("assignment_group", teams).alias("assignment_group_id"),
        _resolve("assignee", people).alias("assignee_id"),
        "state",
        "hold_reason",
        pl.col("resolution_code").str.slice(0, 120),
        "resolution_notes",
        "opened_at",
        "resolved_at",
        "closed_at",
        pl.coalesce("updated_at", "opened_at").alias("updated_at"),
        pl.col("_acknowledged_at").alias("acknowledged_at"),
        _resolve("_first_assignee", people).alias("first_assignee_id"),
        _resolve("_first_group", teams).alias("first_assignment_group_id"),
        pl.col("_first_assigned_at").alias("first_assigned_at"),
        pl.col("_first_resolved_at").alias("first_resolved_at"),
        pl.col("reopen_count").fill_null(0),
        pl.col("reassignment_count").fill_null(0),
        "source_made_sla",
        pl.col("problem_ref").str.slice(0, 64),
        pl.col("change_ref").str.slice(0, 64),
        _resolve("ci", cis).alias("ci_id"),
        _resolve("change_ref", changes).alias("caused_by_change_id"),
        pl.col("custom_fields"),
    )


def load_incidents(
    session: Session, incidents: pl.DataFrame, events: pl.DataFrame, source_system: str
) -> tuple[dict[str, EntityCounts], list[int]]:
    """New tickets are COPYed straight into the incidents table (ids and numbers drawn from
    their sequences first); tickets already imported are staged and updated where a column
    changed. Returns the counts and the ids of the incidents inserted or changed."""
    rows = _incident_rows(session, _with_firsts(incidents, events), source_system)
    stored = session.execute(
        text(
            "select external_id, id from operational.incidents "
            "where source_system = :source_system and external_id = any(:keys)"
        ),
        {"source_system": source_system, "keys": rows.get_column("external_id").to_list()},
    ).all()
    known = pl.DataFrame(
        [tuple(row) for row in stored],
        schema={"external_id": pl.String, "id": pl.Int64},
        orient="row",
    )
    new = rows.join(known, on="external_id", how="anti", maintain_order="left")
    inserted_ids: list[int] = []
    if new.height:
        drawn = session.execute(
            text(
                """
                select nextval(pg_get_serial_sequence('operational.incidents', 'id')),
                       'INC' || lpad(nextval('operational.incident_number_seq')::text, 7, '0')
                from generate_series(1, :count)
                """
            ),
            {"count": new.height},
        ).all()
        inserted_ids = [row[0] for row in drawn]
        new = new.select(
            pl.Series("id", inserted_ids, dtype=pl.Int64),
            pl.Series("number", [row[1] for row in drawn], dtype=pl.String),
            "source_system",
            "external_id",
            *_INCIDENT_COLUMNS,
            pl.col("custom_fields").fill_null("{}"),
        )
        copying.copy_into(session, "operational.incidents", new)
    updated_ids: list[int] = []
    existing = rows.join(known, on="external_id", how="inner", maintain_order="left")
    if existing.height:
        copying.stage(
            session, "stage_incidents", existing.select("id", *_INCIDENT_COLUMNS, "custom_fields")
        )
        # The export's custom field values over those the record has (set here or before).
        custom = "i.custom_fields || coalesce(s.custom_fields::jsonb, '{}')"
        written = (*_INCIDENT_COLUMNS, "custom_fields")
        columns = ", ".join(written)
        values = ", ".join((*(f"s.{column}" for column in _INCIDENT_COLUMNS), custom))
        updated_ids = list(
            session.execute(
                text(
                    f"""
                    update operational.incidents i
                    set ({columns}) = ({values}), version = i.version + 1
                    from stage_incidents s
                    where i.id = s.id
                      and ({", ".join(f"i.{column}" for column in written)})
                          is distinct from ({values})
                    returning i.id
                    """
                )
            ).scalars()
        )
    incident_counts = EntityCounts(
        loaded=len(inserted_ids),
        updated=len(updated_ids),
        unchanged=incidents.height - len(inserted_ids) - len(updated_ids),
    )
    ids = pl.concat(
        [
            new.select("external_id", "id") if new.height else known.clear(),
            known,
        ]
    )
    _upsert_source_figures(session, incidents, ids, source_system)
    new_events = _insert_events(session, events, ids, set(inserted_ids))
    _copy_comments(session, events, source_system)
    event_counts = EntityCounts(loaded=new_events, unchanged=events.height - new_events)
    return {"incidents": incident_counts, "events": event_counts}, [*updated_ids, *inserted_ids]


_FIGURES = (
    "source_resolved_at",
    "source_closed_at",
    "source_reassignment_count",
    "source_reopen_count",
    "resolution_time_unknown",
    "missing_updates",
)


def _upsert_source_figures(
    session: Session, incidents: pl.DataFrame, ids: pl.DataFrame, source_system: str
) -> None:
    """What the source says of each ticket of the batch (operational.incident_source_figures),
    written where it changed: the marts put it beside the replay of the history."""
    figures = incidents.select(
        _label("external_id").alias("external_id"),
        "source_resolved_at",
        "source_closed_at",
        pl.col("reassignment_count").alias("source_reassignment_count"),
        pl.col("reopen_count").alias("source_reopen_count"),
        pl.col("resolution_time_unknown").fill_null(False),
        "missing_updates",
    ).join(ids, on="external_id", how="inner")
    if not figures.height:
        return
    copying.stage(session, "stage_source_figures", figures.drop("external_id"))
    columns = ", ".join(_FIGURES)
    session.execute(
        text(
            f"""
            insert into operational.incident_source_figures
                (incident_id, source_system, {columns}, updated_at)
            select id, :source_system, {columns}, now() from stage_source_figures
            on conflict (incident_id) do update
            set ({columns}, updated_at) = ({", ".join(f"excluded.{c}" for c in _FIGURES)}, now())
            where ({", ".join(f"incident_source_figures.{c}" for c in _FIGURES)})
                is distinct from ({", ".join(f"excluded.{c}" for c in _FIGURES)})
            """
        ),
        {"source_system": source_system},
    )


def _insert_events(
    session: Session, events: pl.DataFrame, ids: pl.DataFrame, new_incidents: set[int]
) -> int:
    """Append the events each ticket does not have yet, COPYed into the log by the events
    service.

    The import's own position of an event (its `seq` in the canonical frame) is kept as
    `data.import_seq`; the idempotence key is (ticket, import_seq). Histories are
    prefix-stable, so the new events of a ticket are those past the highest import_seq stored.
    They are appended after whatever the ticket's log already holds (SLA transitions written by
    the backfill, an agent's comment), so the log's own seq stays gap-free and unique. A ticket
    inserted in this batch has no log yet: its events keep their own seq.
    """
    if not events.height:
        return 0
    earlier = [entity for entity in ids.get_column("id").to_list() if entity not in new_incidents]
    positions = session.execute(
        text(
            """
            select e.entity_id, max(e.seq) as max_seq,
                   coalesce(max((e.data ->> 'import_seq')::integer), 0) as max_import_seq
            from operational.events e
            where e.entity_type = 'incident' and e.entity_id = any(cast(:ids as bigint[]))
            group by e.entity_id
            """
        ),
        {"ids": earlier},
    ).all()
    stored = pl.DataFrame(
        [tuple(row) for row in positions],
        schema={"id": pl.Int64, "max_seq": pl.Int64, "max_import_seq": pl.Int64},
        orient="row",
    )
    new = (
        events.join(ids, on="external_id", how="inner")
        .join(stored, on="id", how="left")
        .with_columns(pl.col("max_seq", "max_import_seq").fill_null(0))
        .filter(pl.col("seq") > pl.col("max_import_seq"))
        .select(
            pl.lit("incident").alias("entity_type"),
            pl.col("id").alias("entity_id"),
            (pl.col("max_seq") + pl.col("seq") - pl.col("max_import_seq")).alias("seq"),
            "occurred_at",
            pl.col("actor").str.slice(0, 200).alias("actor_label"),
            "kind",
            pl.col("field").str.slice(0, 64),
            "old_value",
            "new_value",
            pl.format('{{"import_seq": {}}}', pl.col("seq")).alias("data"),
            "source_system",
            "synthesized",
        )
    )
    if new.height:
        events_service.copy_frame(session=session, frame=new)
    return new.height


def _copy_comments(session: Session, events: pl.DataFrame, source_system: str) -> None:
    """Imported comments and work notes also become comment rows, so the API lists them."""
    comments = events.filter(
        pl.col("kind").is_in(["comment_added", "work_note_added"]),
        pl.col("new_value").is_not_null(),
    ).select("source_system", "external_id", "occurred_at", "actor", "kind", "new_value")
    if not comments.height:
        return
    copying.stage(session, "stage_comments", comments)
    session.execute(
        text(
            """
            insert into operational.incident_comments (incident_id, author_id, is_public, body,
                created_at)
            select i.id, author.id, e.kind = 'comment_added', e.new_value, e.occurred_at
            from stage_comments e
            join operational.incidents i
              on i.source_system = e.source_system and i.external_id = left(e.external_id, 200)
            left join operational.users author on author.source_system = e.source_system
              and author.external_id = left(e.actor, 200)
            where not exists (
                select 1 from operational.incident_comments c
                where c.incident_id = i.id and c.created_at = e.occurred_at
                  and c.body = e.new_value
              )
            """
        )
    )


def load_csat(session: Session, csat: pl.DataFrame) -> EntityCounts:
    """Answers become answered surveys of the imported incidents, each with the incident's
    `csat_answered` event, as the survey link writes it."""
    copying.stage(session, "stage_csat", csat)
    # The token of an imported answer is never handed out: its hash is derived from the key,
    # which also makes the insert idempotent.
    new_ids = (
        session.execute(
            text(
                """
                insert into operational.csat_surveys (incident_id, requester_id, token_hash,
                    opened_at, expires_at, answered_at, rating, comment, answered_via)
                select i.id, i.requester_id,
                    encode(sha256(convert_to('import:' || s.source_system || ':' || s.external_id,
                        'UTF8')), 'hex'),
                    coalesce(i.resolved_at, s.answered_at), s.answered_at, s.answered_at,
                    s.rating, s.comment, 'import'
                from stage_csat s
                join operational.incidents i
                  on i.source_system = s.source_system and i.external_id = left(s.external_id, 200)
                on conflict (token_hash) do nothing
                returning id
                """
            )
        )
        .scalars()
        .all()
    )
    if new_ids:
        copying.temp_table(
            session,
            "stage_appends",
            """
            select distinct on (survey.id)
                'incident'::text as entity_type, survey.incident_id as entity_id,
                'csat:' || survey.id as import_key, survey.id as ord,
                survey.answered_at as occurred_at, survey.requester_id as actor_id,
                coalesce(left(s.respondent, 200), requester.display_name, 'survey')
                    as actor_label,
                'csat_answered'::text as kind, null::text as field, null::text as old_value,
                survey.rating::text as new_value,
                jsonb_build_object('survey_id', survey.id, 'rating', survey.rating,
                    'comment', survey.comment)::text as data,
                s.source_system, false as synthesized
            from operational.csat_surveys survey
            join operational.incidents i on i.id = survey.incident_id
            join stage_csat s
              on s.source_system = i.source_system and left(s.external_id, 200) = i.external_id
            left join operational.users requester on requester.id = survey.requester_id
            where survey.id = any(cast(:ids as bigint[]))
            order by survey.id, s.answered_at desc
            """,
            ids=list(new_ids),
        )
        copying.append_events(session)
    return EntityCounts(loaded=len(new_ids), unchanged=csat.height - len(new_ids))
