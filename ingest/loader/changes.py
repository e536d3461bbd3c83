"""Changes with their affected CIs and review, and CAB decisions, whose rounds are settled by
the platform's own tally."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest import rejects
from ingest.loader import copying
from ingest.loader.cmdb import CI_BY_KEY
from ingest.loader.report import EntityCounts, LoadReport, refuse

_CHANGE_COLUMNS = (
    "title",
    "description",
    "change_type",
    "state",
    "requester_id",
    "assignment_group_id",
    "implementer_id",
    "justification",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "risk_level",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "review_outcome",
    "review_caused_incidents",
    "review_notes",
    "reviewed_by_id",
    "reviewed_at",
    "opened_at",
    "closed_at",
    "custom_fields",
)


def load_changes(session: Session, changes: pl.DataFrame, source_system: str) -> EntityCounts:
    copying.stage(session, "stage_changes", changes)
    copying.upsert_people(
        session,
        source_system,
        "select requester from stage_changes union select implementer from stage_changes "
        "union select reviewer from stage_changes",
    )
    copying.upsert_teams(session, "select assignment_group from stage_changes")
    source = f"""
        select s.source_system, left(s.external_id, 200) as external_id,
            left(coalesce(s.title, s.number), 300) as title, s.description, s.change_type,
            s.state, requester.id as requester_id, team.id as assignment_group_id,
            implementer.id as implementer_id, s.justification, s.implementation_plan,
            s.backout_plan, s.test_plan, s.risk as risk_level, s.planned_start, s.planned_end,
            s.actual_start, s.actual_end, s.review_outcome, s.review_caused_incidents,
            s.review_notes, reviewer.id as reviewed_by_id,
            case when s.review_outcome is not null
                 then coalesce(s.reviewed_at, s.closed_at, s.actual_end) end as reviewed_at,
            s.opened_at, s.closed_at, s.affected_cis,
            coalesce(s.custom_fields::jsonb, '{{}}'::jsonb) as custom_fields
        from stage_changes s
        {copying.person_join("requester", "requester")}
        {copying.person_join("implementer", "implementer")}
        {copying.person_join("reviewer", "reviewer")}
        left join operational.teams team on team.name = left(s.assignment_group, 200)
    """
    target = ", ".join(_CHANGE_COLUMNS)
    # An export without an opening time keeps the one stored (or gets the time of import).
    values = ", ".join(
        "coalesce(src.opened_at, c.opened_at)"
        if column == "opened_at"
        # The export's custom field values over those the change has (set here or before).
        else "c.custom_fields || src.custom_fields"
        if column == "custom_fields"
        else f"src.{column}"
        for column in _CHANGE_COLUMNS
    )
    updated = copying.count(
        session,
        f"""
        with src as ({source})
        update operational.changes c
        set ({target}) = ({values}), version = c.version + 1, updated_at = now()
        from src
        where c.source_system = src.source_system and c.external_id = src.external_id
          and ({", ".join(f"c.{column}" for column in _CHANGE_COLUMNS)}) is distinct from ({values})
        """,
    )
    new_values = ", ".join(
        "coalesce(src.opened_at, now())" if column == "opened_at" else f"src.{column}"
        for column in _CHANGE_COLUMNS
    )
    inserted_ids = (
        session.execute(
            text(
                f"""
            with src as ({source})
            insert into operational.changes (number, source_system, external_id, {target})
            select 'CHG' || lpad(nextval('operational.change_number_seq')::text, 7, '0'),
                   src.source_system, src.external_id, {new_values}
            from src
            where not exists (
                select 1 from operational.changes c
                where c.source_system = src.source_system and c.external_id = src.external_id
            )
            returning id
            """
            )
        )
        .scalars()
        .all()
    )
    session.execute(
        text(
            f"""
            insert into operational.change_cis (change_id, ci_id)
            select distinct c.id, ci.id
            from stage_changes s
            join operational.changes c
              on c.source_system = s.source_system and c.external_id = left(s.external_id, 200)
            cross join lateral unnest(string_to_array(s.affected_cis, E'{copying.LIST_SEPARATOR}'))
                as affected(key)
            join lateral {CI_BY_KEY.format(column="affected.key", source="s.source_system")}
                as ci(id) on ci.id is not null
            on conflict do nothing
            """
        )
    )
    copying.append_created_events(session, "change", "changes", list(inserted_ids))
    # The post-implementation review, as record_review writes it.
    copying.temp_table(
        session,
        "stage_appends",
        """
        select 'change'::text as entity_type, c.id as entity_id, 'review'::text as import_key,
            0::bigint as ord, c.reviewed_at as occurred_at, c.reviewed_by_id as actor_id,
            coalesce(reviewer.display_name, 'import') as actor_label,
            'field_changed'::text as kind, 'review'::text as field, null::text as old_value,
            c.review_outcome as new_value,
            jsonb_build_object('outcome', c.review_outcome,
                'caused_incidents', c.review_caused_incidents, 'notes', c.review_notes)::text
                as data,
            c.source_system, false as synthesized
        from stage_changes s
        join operational.changes c
          on c.source_system = s.source_system and c.external_id = left(s.external_id, 200)
        left join operational.users reviewer on reviewer.id = c.reviewed_by_id
        where c.review_outcome is not null and c.reviewed_at is not null
        """,
    )
    copying.append_events(session)
    return EntityCounts(
        loaded=len(inserted_ids),
        updated=updated,
        unchanged=changes.height - len(inserted_ids) - updated,
    )


def load_change_approvals(
    session: Session, approvals: pl.DataFrame, source_system: str, report: LoadReport
) -> EntityCounts:
    """CAB decisions of imported changes. Approvers are people of the source system, given the
    row's `approver_role` when there is one. Each round is then settled by the platform's own
    CAB rules, and the log gets what the API writes: the round opened (pending), one
    `approval_decided` per decision with the running tally, and the outcome once reached."""
    copying.stage(
        session, "stage_approvals", approvals.with_row_index("_row").cast({"_row": pl.Int64})
    )
    copying.upsert_people(session, source_system, "select approver from stage_approvals")
    session.execute(
        text(
            """
            insert into operational.user_roles (user_id, role)
            select distinct person.id, s.approver_role
            from stage_approvals s
            join operational.users person on person.source_system = s.source_system
                and person.external_id = left(s.approver, 200)
            where s.approver_role is not null
            on conflict do nothing
            """
        )
    )
    copying.temp_table(
        session,
        "resolved_approvals",
        """
        select s.*, c.id as change_id, c.requester_id, c.implementer_id,
            person.id as approver_id
        from stage_approvals s
        left join operational.changes c
          on c.source_system = s.source_system and c.external_id = left(s.change_external_id, 200)
        join operational.users person
          on person.source_system = s.source_system and person.external_id = left(s.approver, 200)
        """,
    )
    refused = refuse(
        session,
        report,
        entity="change_approvals",
        rows_sql="select _row, change_external_id, change_external_id from resolved_approvals "
        "where change_id is null",
        column="change_external_id",
        reason=rejects.UNKNOWN_REFERENCE,
        detail=f"no change with this id was imported from {source_system}",
    )
    refused += refuse(
        session,
        report,
        entity="change_approvals",
        rows_sql="select _row, approver, change_external_id from resolved_approvals "
        "where approver_id in (requester_id, implementer_id)",
        column="approver",
        reason=rejects.SELF_APPROVAL,
        detail="the requester or implementer of a change cannot decide on it",
    )
    loaded = copying.count(
        session,
        """
        insert into operational.change_approvals (change_id, stage, round, approver_id,
            decision, comment, decided_at)
        select change_id, stage, round, approver_id, decision, coalesce(comment, ''), decided_at
        from resolved_approvals
        where change_id is not null and approver_id is distinct from requester_id
          and approver_id is distinct from implementer_id
        on conflict (change_id, round, approver_id) do nothing
        """,
    )
    change_ids = (
        session.execute(
            text("select distinct change_id from resolved_approvals where change_id is not null")
        )
        .scalars()
        .all()
    )
    _settle_cab_rounds(session, list(change_ids), source_system)
    return EntityCounts(
        loaded=loaded, unchanged=approvals.height - refused - loaded, refused=refused
    )


def _change_event(
    change_id: int,
    import_key: str,
    occurred_at: datetime,
    kind: str,
    *,
    actor_id: int | None = None,
    actor_label: str = "import",
    field: str | None = None,
    old_value: str | None = None,
    new_value: str | None = None,
    data: dict | None = None,
    synthesized: bool = False,
) -> dict:
    """One row of an `append_events` frame for a change (ord and source_system set later)."""
    return {
        "entity_type": "change",
        "entity_id": change_id,
        "import_key": import_key,
        "ord": 0,
        "occurred_at": occurred_at,
        "actor_id": actor_id,
        "actor_label": actor_label,
        "kind": kind,
        "field": field,
        "old_value": old_value,
        "new_value": new_value,
        "data": json.dumps(data, default=str) if data is not None else None,
        "source_system": None,
        "synthesized": synthesized,
    }


def _settle_cab_rounds(session: Session, change_ids: list[int], source_system: str) -> None:
    """Replay the decisions of each round through `changes.cab.tally`, the function the API
    settles rounds with, and write the events and the change's CAB fields that follow.

    The pool of a round is as in the API (who may decide, plus who decided), drawn from the
    people of the change's source system: the source tool's CAB decided its changes. A round's
    rule is the change's stored one for its current round, else the CAB rule of its type now.
    """
    if not change_ids:
        return
    from operational.changes import cab as changes_cab

    changes = session.execute(
        text(
            """
            select id, change_type, requester_id, raised_by_id, implementer_id, cab_round,
                cab_rule, cab_quorum
            from operational.changes where id = any(cast(:ids as bigint[])) order by id for update
            """
        ),
        {"ids": change_ids},
    ).all()
    rules = {
        row.change_type: (row.rule, row.quorum)
        for row in session.execute(
            text("select change_type, rule, quorum from operational.cab_rules")
        )
    }
    cab = set(
        session.execute(
            text(
                """
                select distinct person.id from operational.users person
                join operational.user_roles role on role.user_id = person.id
                where person.source_system = :source_system and person.is_active
                  and role.role = any(:roles)
                """
            ),
            {"source_system": source_system, "roles": changes_cab.approver_roles()},
        )
        .scalars()
        .all()
    )
    decisions: dict[int, dict[int, list]] = {}
    for row in session.execute(
        text(
            """
            select a.id, a.change_id, a.stage, a.round, a.approver_id, a.decision, a.comment,
                   a.decided_at, person.display_name
            from operational.change_approvals a
            join operational.users person on person.id = a.approver_id
            where a.change_id = any(cast(:ids as bigint[]))
            order by a.change_id, a.round, a.decided_at, a.id
            """
        ),
        {"ids": change_ids},
    ):
        decisions.setdefault(row.change_id, {}).setdefault(row.round, []).append(row)

    events: list[dict] = []
    settled: list[dict] = []
    for change in changes:
        eligible = cab - changes_cab.conflicted_ids(change)
        last = None
        for number, round_decisions in sorted(decisions.get(change.id, {}).items()):
            stage = round_decisions[0].stage
            if number == change.cab_round and change.cab_rule:
                rule, quorum = change.cab_rule, change.cab_quorum
            else:
                rule, quorum = rules["emergency" if change.change_type == "emergency" else "normal"]

            def event(key: str, when: datetime, kind: str, **values) -> None:
                events.append(
                    _change_event(change.id, f"cab:{number}:{key}", when, kind, **values)  # noqa: B023
                )

            # When the round opened is not in the export: the first decision stands for it.
            event(
                "opened",
                round_decisions[0].decided_at,
                "field_changed",
                field="cab_outcome",
                new_value="pending",
                data={"stage": stage, "round": number, "rule": rule, "quorum": quorum},
                synthesized=True,
            )
            outcome = "pending"
            so_far: list[str] = []
            deciders: set[int] = set()
            for decision in round_decisions:
                so_far.append(decision.decision)
                deciders.add(decision.approver_id)
                result = changes_cab.tally(
                    rule=rule, quorum=quorum, decisions=so_far, pool_size=len(eligible | deciders)
                )
                by = {"actor_id": decision.approver_id, "actor_label": decision.display_name}
                event(
                    f"approval:{decision.id}",
                    decision.decided_at,
                    "approval_decided",
                    **by,
                    field="approval",
                    new_value=decision.decision,
                    data={
                        "approval_id": decision.id,
                        "decision": decision.decision,
                        "comment": decision.comment,
                        "stage": stage,
                        "round": number,
                        "rule": rule,
                        "quorum": quorum,
                        "approvals": result.approvals,
                        "rejections": result.rejections,
                        "undecided": result.undecided,
                        "outcome": result.outcome.value,
                    },
                )
                if outcome == "pending" and result.outcome.value != "pending":
                    outcome = result.outcome.value
                    event(
                        "settled",
                        decision.decided_at,
                        "field_changed",
                        **by,
                        field="cab_outcome",
                        old_value="pending",
                        new_value=outcome,
                        data={"stage": stage, "round": number},
                    )
            last = {"id": change.id, "stage": stage, "round": number, "rule": rule,
                    "quorum": quorum, "outcome": outcome}  # fmt: skip
        if last:
            settled.append(last)
    if events:
        for order, row in enumerate(events):
            row["ord"] = order
            row["source_system"] = source_system
        copying.append_events(session, pl.DataFrame(events, schema=copying.APPEND_SCHEMA))
    session.execute(
        text(
            """
            update operational.changes c
            set cab_stage = v.stage, cab_round = v.round, cab_rule = v.rule,
                cab_quorum = v.quorum, cab_outcome = v.outcome, version = c.version + 1,
                updated_at = now()
            from jsonb_to_recordset(cast(:rows as jsonb))
                as v(id bigint, stage text, round integer, rule text, quorum smallint,
                     outcome text)
            where c.id = v.id
              and (c.cab_stage, c.cab_round, c.cab_rule, c.cab_quorum, c.cab_outcome)
                  is distinct from (v.stage, v.round, v.rule, v.quorum, v.outcome)
            """
        ),
        {"rows": json.dumps(settled)},
    )
