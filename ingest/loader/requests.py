"""Service requests, their items, fulfilment tasks and approvals, each with its history.

Each entity comes from its own export (one generic mapping per file) and is upserted on
(source system, external id): requests first, then their items (which name their request and
their catalog item), then the items' tasks and approvals (which name their item). A row naming a
request, item or catalog item that is not there is refused with its line and the reason, and the
good rows are loaded. The history of each record (`request_events`: read from the export's
history file or synthesized from its timestamps, `ingest/request_history.py`) is appended to the
log once per event: a re-import adds only what is new. Approvals write what the API writes on
the item: the stage's `approval_requested` and each `approval_decided`.

An item's delivery clock and its approval wait and fulfilment times come from the request
domain's own replay of its log (`operational.requests.flows.replay_clocks`), so the request
marts compute the same figures for imported and native requests.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest import rejects
from ingest.loader import copying
from ingest.loader.report import EntityCounts, LoadReport, refuse

_REQUEST_COLUMNS = (
    "requester_id",
    "opened_by_id",
    "justification",
    "state",
    "opened_at",
    "closed_at",
    "custom_fields",
)
# Written on insert and compared on update (the catalog item's version, target and calendar
# are the ones it had when the item was first imported, as an order keeps them).
_ITEM_COLUMNS = (
    "request_id",
    "catalog_item_id",
    "item_name",
    "quantity",
    "cost",
    "state",
    "fulfilment_team_id",
    "opened_at",
    "approved_at",
    "delivered_at",
    "closed_at",
    "rejection_reason",
)
_TASK_COLUMNS = (
    "request_item_id",
    "name",
    "description",
    "assignment_group_id",
    "assignee_id",
    "state",
    "opened_at",
    "closed_at",
    "close_notes",
)
_FULFILLED = "('in_fulfilment', 'awaiting_requester', 'delivered')"
_ITEM_FINAL = "('delivered', 'rejected', 'cancelled')"


def _number(prefix: str, sequence: str, table: str) -> str:
    """The source's number where no other record holds it (nor an earlier row of the file);
    otherwise one of ours."""
    return f"""
        case when src._copy = 1 and not exists (
            select 1 from operational.{table} x where x.number = left(src.number, 32))
        then left(src.number, 32)
        else '{prefix}' || lpad(nextval('operational.{sequence}')::text, 7, '0') end
    """


def _stage(session: Session, name: str, frame: pl.DataFrame, key: tuple[str, ...]) -> None:
    """Stage the rows with their index in the frame (`_row`, for refusals); of rows sharing a
    key, the last stands."""
    numbered = frame.with_row_index("_row").cast({"_row": pl.Int64})
    copying.stage(session, name, numbered.unique(subset=list(key), keep="last"))


def _upsert(
    session: Session,
    *,
    table: str,
    source: str,
    columns: tuple[str, ...],
    insert_extra: dict[str, str],
    number: str,
    total: int,
) -> tuple[EntityCounts, list[int]]:
    """Update the records whose columns changed, insert the new ones; (counts, their ids)."""
    target = ", ".join(columns)
    values = ", ".join(f"src.{column}" for column in columns)
    # The export's custom field values over those the record has (set here or before).
    merged = values.replace("src.custom_fields", "t.custom_fields || src.custom_fields")
    updated = list(
        session.execute(
            text(
                f"""
                with src as ({source})
                update operational.{table} t
                set ({target}) = ({merged}), version = t.version + 1, updated_at = now()
                from src
                where t.source_system = src.source_system and t.external_id = src.external_id
                  and ({", ".join(f"t.{column}" for column in columns)})
                      is distinct from ({merged})
                returning t.id
                """
            )
        ).scalars()
    )
    extra_columns = "".join(f", {name}" for name in insert_extra)
    extra_values = "".join(f", {value}" for value in insert_extra.values())
    inserted = list(
        session.execute(
            text(
                f"""
                with src as (
                    select s.*, row_number() over (partition by s.number order by s._row) as _copy
                    from ({source}) s
                    where not exists (
                        select 1 from operational.{table} t
                        where t.source_system = s.source_system and t.external_id = s.external_id)
                )
                insert into operational.{table} (number, source_system, external_id, {target}
                    {extra_columns})
                select {number}, src.source_system, src.external_id, {values} {extra_values}
                from src
                order by src._row
                on conflict (source_system, external_id) do nothing
                returning id
                """
            )
        ).scalars()
    )
    counts = EntityCounts(
        loaded=len(inserted), updated=len(updated), unchanged=total - len(inserted) - len(updated)
    )
    return counts, inserted + updated


def _append_history(
    session: Session, events: pl.DataFrame, entity_type: str, table: str, source_system: str
) -> None:
    """The records' events, each appended once (keyed by what it says and when)."""
    events = events.filter(pl.col("entity") == entity_type)
    if not events.height:
        return
    copying.stage(session, "stage_request_events", events)
    copying.upsert_people(session, source_system, "select actor from stage_request_events")
    copying.temp_table(
        session,
        "stage_appends",
        f"""
        select cast(:entity_type as text) as entity_type, r.id as entity_id,
            case when e.kind = 'created' then 'created'
            else concat_ws(':', 'h', e.kind, e.field, e.new_value,
                extract(epoch from e.occurred_at)::text,
                row_number() over (
                    partition by r.id, e.kind, e.field, e.new_value, e.occurred_at order by e.seq))
            end as import_key,
            e.seq::bigint as ord, e.occurred_at, actor.id as actor_id,
            coalesce(actor.display_name, left(e.actor, 200), 'import') as actor_label,
            e.kind, e.field, e.old_value, e.new_value, null::text as data, e.source_system,
            e.synthesized
        from stage_request_events e
        join operational.{table} r
          on r.source_system = e.source_system and r.external_id = left(e.external_id, 200)
        left join operational.users actor
          on actor.source_system = e.source_system and actor.external_id = left(e.actor, 200)
        """,
        entity_type=entity_type,
    )
    copying.append_events(session)


# ------------------------------------------------------------------------------ requests


def load_requests(
    session: Session,
    requests: pl.DataFrame,
    events: pl.DataFrame,
    source_system: str,
    report: LoadReport,
) -> EntityCounts:
    _stage(session, "stage_requests", requests, ("external_id",))
    copying.upsert_people(
        session,
        source_system,
        "select requester from stage_requests union select opened_by from stage_requests",
    )
    source = f"""
        select s._row, s.source_system, left(s.external_id, 200) as external_id, s.number,
            requester.id as requester_id, coalesce(opener.id, requester.id) as opened_by_id,
            s.justification, s.state, s.opened_at,
            case when s.state <> 'open' then greatest(coalesce(s.closed_at, s.opened_at),
                s.opened_at) end as closed_at,
            coalesce(s.custom_fields::jsonb, '{{}}'::jsonb) as custom_fields
        from stage_requests s
        {copying.person_join("requester", "requester")}
        {copying.person_join("opener", "opened_by")}
    """
    counts, _ = _upsert(
        session,
        table="requests",
        source=source,
        columns=_REQUEST_COLUMNS,
        insert_extra={"created_at": "src.opened_at", "updated_at": "src.opened_at"},
        number=_number("REQ", "request_number_seq", "requests"),
        total=requests.height,
    )
    _append_history(session, events, "request", "requests", source_system)
    return counts


# ------------------------------------------------------------------------- request items


def load_request_items(
    session: Session,
    items: pl.DataFrame,
    events: pl.DataFrame,
    source_system: str,
    report: LoadReport,
) -> EntityCounts:
    _stage(session, "stage_request_items", items, ("external_id",))
    copying.upsert_teams(session, "select assignment_group from stage_request_items")
    # The catalog item by name (any case) or by our id.
    copying.temp_table(
        session,
        "resolved_items",
        """
        select s.*, r.id as request_id, catalog.id as catalog_item_id
        from stage_request_items s
        left join operational.requests r
          on r.source_system = s.source_system and r.external_id = left(s.request_external_id, 200)
        left join lateral (
            select c.id from operational.catalog_items c
            where lower(c.name) = lower(btrim(s.catalog_item)) or c.id::text = btrim(s.catalog_item)
            order by lower(c.name) = lower(btrim(s.catalog_item)) desc, c.id
            limit 1
        ) catalog on true
        """,
    )
    refused = refuse(
        session,
        report,
        entity="request_items",
        rows_sql="select _row, request_external_id, external_id from resolved_items "
        "where request_id is null",
        column="request_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail=f"no request with this id was imported from {source_system}",
    )
    refused += refuse(
        session,
        report,
        entity="request_items",
        rows_sql="select _row, catalog_item, external_id from resolved_items "
        "where request_id is not null and catalog_item_id is null",
        column="catalog_item",
        reason=rejects.UNKNOWN_REFERENCE,
        detail="no catalog item of this name or id",
    )
    source = f"""
        select s._row, s.source_system, left(s.external_id, 200) as external_id, s.number,
            s.request_id, s.catalog_item_id, c.name as item_name, c.version as item_version,
            coalesce(s.quantity, 1) as quantity, c.price * coalesce(s.quantity, 1) as cost,
            s.state, coalesce(team.id, c.fulfilment_team_id) as fulfilment_team_id, s.opened_at,
            t.approved_at, t.delivered_at,
            case when s.state in {_ITEM_FINAL}
                then coalesce(s.closed_at, t.delivered_at, t.approved_at, s.opened_at) end
                as closed_at,
            s.rejection_reason, c.calendar_id as sla_calendar_id,
            c.delivery_minutes as sla_target_minutes, s.line
        from resolved_items s
        join operational.catalog_items c on c.id = s.catalog_item_id
        left join operational.teams team on team.name = left(s.assignment_group, 200)
        cross join lateral (
            select approved.at as approved_at,
                case when s.state = 'delivered'
                    then greatest(coalesce(s.delivered_at, s.closed_at, approved.at), approved.at)
                end as delivered_at
            from (select case when s.approved_at is not null or s.state in {_FULFILLED}
                then greatest(coalesce(s.approved_at, s.opened_at), s.opened_at) end as at
            ) approved
        ) t
        where s.request_id is not null
    """
    # New lines go after the request's others, unless the export numbers them.
    line = """coalesce(src.line, (
            select coalesce(max(x.line), 0) from operational.request_items x
            where x.request_id = src.request_id)
        + row_number() over (partition by src.request_id, src.line is null
            order by src.opened_at, src._row))"""
    counts, touched = _upsert(
        session,
        table="request_items",
        source=source,
        columns=_ITEM_COLUMNS,
        insert_extra={
            "line": line,
            "item_version": "src.item_version",
            "answers": "'{}'::jsonb",
            "sla_calendar_id": "src.sla_calendar_id",
            "sla_target_minutes": "src.sla_target_minutes",
            "sla_state": "'running'",
            "sla_elapsed_minutes": "0",
            "sla_paused_minutes": "0",
            "created_at": "src.opened_at",
            "updated_at": "src.opened_at",
        },
        number=_number("RITM", "request_item_number_seq", "request_items"),
        total=items.height - refused,
    )
    counts.refused = refused
    _append_history(session, events, "request_item", "request_items", source_system)
    _replay_clocks(session, touched)
    return counts


def _replay_clocks(session: Session, item_ids: list[int]) -> None:
    """Each item's delivery clock and its approval and fulfilment times, replayed from its log
    by the request domain, as for an item ordered here."""
    if not item_ids:
        return
    from operational.requests import flows as request_flows

    request_flows.replay_clocks(session=session, item_ids=item_ids, now=datetime.now(UTC))
    session.flush()


# ----------------------------------------------------------------------------------- tasks


def load_request_tasks(
    session: Session,
    tasks: pl.DataFrame,
    events: pl.DataFrame,
    source_system: str,
    report: LoadReport,
) -> EntityCounts:
    _stage(session, "stage_request_tasks", tasks, ("external_id",))
    copying.upsert_people(session, source_system, "select assignee from stage_request_tasks")
    copying.upsert_teams(session, "select assignment_group from stage_request_tasks")
    copying.temp_table(
        session,
        "resolved_tasks",
        """
        select s.*, i.id as request_item_id
        from stage_request_tasks s
        left join operational.request_items i on i.source_system = s.source_system
            and i.external_id = left(s.request_item_external_id, 200)
        """,
    )
    refused = refuse(
        session,
        report,
        entity="request_tasks",
        rows_sql="select _row, request_item_external_id, external_id from resolved_tasks "
        "where request_item_id is null",
        column="request_item_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail=f"no request item with this id was imported from {source_system}",
    )
    source = f"""
        select s._row, s.source_system, left(s.external_id, 200) as external_id, s.number,
            s.request_item_id, left(coalesce(s.name, s.number), 200) as name, s.description,
            team.id as assignment_group_id, assignee.id as assignee_id, s.state, s.opened_at,
            case when s.state in ('closed', 'cancelled')
                then greatest(coalesce(s.closed_at, s.opened_at), s.opened_at) end as closed_at,
            s.close_notes, s.position
        from resolved_tasks s
        left join operational.teams team on team.name = left(s.assignment_group, 200)
        {copying.person_join("assignee", "assignee")}
        where s.request_item_id is not null
    """
    position = """coalesce(src.position, (
            select coalesce(max(x.position), 0) from operational.request_tasks x
            where x.request_item_id = src.request_item_id)
        + row_number() over (partition by src.request_item_id, src.position is null
            order by src.opened_at, src._row))"""
    counts, _ = _upsert(
        session,
        table="request_tasks",
        source=source,
        columns=_TASK_COLUMNS,
        insert_extra={
            "position": position,
            "created_at": "src.opened_at",
            "updated_at": "coalesce(src.closed_at, src.opened_at)",
        },
        number=_number("SCTASK", "request_task_number_seq", "request_tasks"),
        total=tasks.height - refused,
    )
    counts.refused = refused
    _append_history(session, events, "request_task", "request_tasks", source_system)
    return counts


# ------------------------------------------------------------------------------- approvals


def load_request_approvals(
    session: Session,
    approvals: pl.DataFrame,
    events: pl.DataFrame,
    source_system: str,
    report: LoadReport,
) -> EntityCounts:
    """Approvals of imported items: each stage (by name, per item) made once, in the order its
    approvals were first asked unless the export numbers them; each approval upserted on its
    stage and approver; the stage's state settled by its rule from its approvals."""
    del events  # approvals have no history of their own: their events are the item's
    _stage(
        session,
        "stage_request_approvals",
        approvals,
        ("request_item_external_id", "stage", "approver"),
    )
    copying.upsert_people(
        session,
        source_system,
        "select approver from stage_request_approvals "
        "union select decided_by from stage_request_approvals",
    )
    copying.temp_table(
        session,
        "resolved_request_approvals",
        f"""
        select s.*, i.id as request_item_id, r.requester_id, approver.id as approver_id,
            coalesce(decider.id, approver.id) as decided_by_id,
            left(s.stage, 120) as stage_name,
            coalesce(s.requested_at, i.opened_at) as asked_at
        from stage_request_approvals s
        left join operational.request_items i on i.source_system = s.source_system
            and i.external_id = left(s.request_item_external_id, 200)
        left join operational.requests r on r.id = i.request_id
        {copying.person_join("approver", "approver")}
        {copying.person_join("decider", "decided_by")}
        """,
    )
    refused = refuse(
        session,
        report,
        entity="request_approvals",
        rows_sql="select _row, request_item_external_id, request_item_external_id "
        "from resolved_request_approvals where request_item_id is null",
        column="request_item_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail=f"no request item with this id was imported from {source_system}",
    )
    refused += refuse(
        session,
        report,
        entity="request_approvals",
        rows_sql="select _row, approver, request_item_external_id "
        "from resolved_request_approvals "
        "where request_item_id is not null and approver_id = requester_id",
        column="approver",
        reason=rejects.SELF_APPROVAL,
        detail="nobody approves their own request",
    )
    session.execute(
        text(
            "delete from resolved_request_approvals "
            "where request_item_id is null or approver_id = requester_id"
        )
    )
    # The stages, each once per item and name.
    stages = list(
        session.execute(
            text(
                """
                insert into operational.request_approval_stages (request_item_id, position, name,
                    rule, state, started_at)
                select n.request_item_id, coalesce(n.position, (
                        select coalesce(max(x.position), 0)
                        from operational.request_approval_stages x
                        where x.request_item_id = n.request_item_id)
                    + row_number() over (partition by n.request_item_id, n.position is null
                        order by n.asked_at, n.stage_name)),
                    n.stage_name, n.rule, 'pending', n.asked_at
                from (
                    select s.request_item_id, s.stage_name, min(s.stage_position) as position,
                        coalesce(min(s.rule), 'one') as rule, min(s.asked_at) as asked_at
                    from resolved_request_approvals s
                    where not exists (
                        select 1 from operational.request_approval_stages x
                        where x.request_item_id = s.request_item_id and x.name = s.stage_name)
                    group by 1, 2
                ) n
                on conflict (request_item_id, position) do nothing
                returning id
                """
            )
        ).scalars()
    )
    changed = list(
        session.execute(
            text(
                """
                insert into operational.request_approvals as a (stage_id, request_item_id,
                    approver_id, state, requested_at, decided_at, decided_by_id, comment)
                select stage.id, s.request_item_id, s.approver_id, s.decision, s.asked_at,
                    case when s.decision in ('approved', 'rejected')
                        then greatest(coalesce(s.decided_at, s.asked_at), s.asked_at) end,
                    case when s.decision in ('approved', 'rejected') then s.decided_by_id end,
                    s.comment
                from resolved_request_approvals s
                join operational.request_approval_stages stage
                  on stage.request_item_id = s.request_item_id and stage.name = s.stage_name
                order by s._row
                on conflict (stage_id, approver_id) do update
                set state = excluded.state, requested_at = excluded.requested_at,
                    decided_at = excluded.decided_at, decided_by_id = excluded.decided_by_id,
                    comment = excluded.comment
                where (a.state, a.requested_at, a.decided_at, a.decided_by_id, a.comment)
                    is distinct from (excluded.state, excluded.requested_at, excluded.decided_at,
                        excluded.decided_by_id, excluded.comment)
                returning a.id, a.stage_id, (xmax = 0) as inserted
                """
            )
        ).all()
    )
    _settle_stages(session, sorted({row.stage_id for row in changed}))
    _approval_events(session)
    loaded = sum(1 for row in changed if row.inserted)
    updated = len(changed) - loaded
    counts = EntityCounts(
        loaded=loaded,
        updated=updated,
        unchanged=approvals.height - refused - loaded - updated,
        refused=refused,
    )
    if stages:
        counts_stages = report.counts.setdefault("request_approval_stages", EntityCounts())
        counts_stages.loaded += len(stages)
    return counts


def _settle_stages(session: Session, stage_ids: list[int]) -> None:
    """A stage's state by its rule, as the approvals service settles it: rejected by any
    rejection (one, all) or once its quorum cannot be reached; approved by one approval (one),
    all (all) or its quorum; pending otherwise. It started when its first approver was asked
    and ended with its last decision."""
    if not stage_ids:
        return
    session.execute(
        text(
            """
            update operational.request_approval_stages stage
            set state = settled.state, started_at = settled.started_at,
                ended_at = case when settled.state <> 'pending' then settled.ended_at end,
                note = case when settled.state <> 'pending'
                    then settled.state || ' under the ' || stage.rule || ' rule (imported)' end
            from (
                select st.id, min(a.requested_at) as started_at, max(a.decided_at) as ended_at,
                    case
                    when st.rule = 'quorum' and count(*) filter (where a.state = 'approved')
                        >= coalesce(st.quorum, 1) then 'approved'
                    when st.rule = 'quorum' and count(*) filter (where a.state <> 'rejected')
                        < coalesce(st.quorum, 1) then 'rejected'
                    when st.rule <> 'quorum' and bool_or(a.state = 'rejected') then 'rejected'
                    when st.rule = 'one' and bool_or(a.state = 'approved') then 'approved'
                    when st.rule = 'all' and bool_and(a.state in ('approved', 'not_required'))
                        and bool_or(a.state = 'approved') then 'approved'
                    else 'pending' end as state
                from operational.request_approval_stages st
                join operational.request_approvals a on a.stage_id = st.id
                where st.id = any(cast(:ids as bigint[]))
                group by st.id
            ) settled
            where stage.id = settled.id
            """
        ),
        {"ids": stage_ids},
    )


def _approval_events(session: Session) -> None:
    """What the API writes on the item: `approval_requested` when a stage asks its approvers,
    and one `approval_decided` per decision (with its approval, stage, approver, who decided,
    the comment and the policy version); each once. At one moment a decision goes before the
    next stage's request, as the API orders them."""
    copying.temp_table(
        session,
        "stage_appends",
        """
        with items as (select distinct request_item_id from resolved_request_approvals),
        stages as (
            select st.*, i.item_version, i.source_system,
                array_agg(a.approver_id order by a.approver_id) as approver_ids
            from operational.request_approval_stages st
            join items using (request_item_id)
            join operational.request_items i on i.id = st.request_item_id
            join operational.request_approvals a on a.stage_id = st.id
            group by st.id, i.item_version, i.source_system
        )
        select 'request_item'::text as entity_type, st.request_item_id as entity_id,
            'stage_requested:' || st.id as import_key,
            extract(epoch from st.started_at)::bigint * 10 + 1 as ord, st.started_at as occurred_at,
            null::bigint as actor_id, 'import'::text as actor_label,
            'approval_requested'::text as kind, 'approval'::text as field,
            null::text as old_value, st.name as new_value,
            jsonb_build_object('stage', st.position, 'rule', st.rule, 'quorum', st.quorum,
                'approver_ids', to_jsonb(st.approver_ids),
                'policy_version', st.item_version)::text as data,
            st.source_system, true as synthesized
        from stages st
        union all
        select 'request_item', a.request_item_id, 'approval:' || a.id || ':' || a.state,
            extract(epoch from a.decided_at)::bigint * 10, a.decided_at, a.decided_by_id,
            coalesce(decider.display_name, 'import'), 'approval_decided', 'approval',
            'pending', a.state,
            jsonb_strip_nulls(jsonb_build_object('approval_id', a.id, 'stage', st.position,
                'stage_name', st.name, 'approver_id', a.approver_id,
                'on_behalf_of', case when a.decided_by_id <> a.approver_id
                    then a.approver_id end,
                'as', case when a.decided_by_id <> a.approver_id then 'delegate'
                    else 'approver' end,
                'comment', a.comment, 'policy_version', i.item_version))::text,
            i.source_system, false
        from operational.request_approvals a
        join items using (request_item_id)
        join operational.request_approval_stages st on st.id = a.stage_id
        join operational.request_items i on i.id = a.request_item_id
        left join operational.users decider on decider.id = a.decided_by_id
        where a.state in ('approved', 'rejected')
        """,
    )
    copying.append_events(session)
