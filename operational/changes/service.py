"""Changes: the change record itself. Lookups, search, history, risk, create and update, the
workflow by type, and the post-implementation review.

Plain functions: they flush, never commit, and know nothing of HTTP. Every change to a change
is appended to the event log (entity 'change'). Beside this module: cab.py (approvers, rounds,
decisions), collisions.py (calendar conflicts), templates.py (standard change templates),
blackouts.py (blackout windows and the calendar) and records.py (the helpers they all share).
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal_column, or_, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.changes import cab, collisions, records, risk, templates
from operational.changes.enums import (
    CHANGE_IMPACT_DEPTH,
    EDITABLE_STATES,
    OPEN_STATES,
    REVIEW_OUTCOME_STATE,
    TERMINAL_STATES,
    TRANSITIONS,
    ApprovalStage,
    CabOutcome,
    ChangeState,
    ChangeType,
    Decision,
)
from operational.changes.exceptions import (
    ChangeFrozen,
    ChangeIncomplete,
    InvalidTemplateUse,
    RetrospectivePending,
    ScheduleConflict,
)
from operational.changes.models import CUSTOM_SEARCH_CONFIG, Change, ChangeCI, change_number_seq
from operational.changes.schemas import ChangeCreate, ChangeFilters, ChangeUpdate, ReviewCreate
from operational.cmdb import service as cmdb_service
from operational.cmdb.enums import ImpactDirection
from operational.cmdb.models import ConfigurationItem
from operational.core.concurrency import check_version
from operational.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidTransition,
    UnprocessableEntity,
)
from operational.core.pagination import Page, PageParams, paginate
from operational.customfields import service as custom_fields
from operational.customfields.enums import RecordType
from operational.events import service as events
from operational.events.enums import EntityType, EventKind

OVERRIDE_PERMISSION = "change:override_conflict"
REVIEW_PATH = "/api/v1/changes/{id}/review"
OVERRIDE_PATH = "/api/v1/changes/{id}/schedule-override"

CHANGE_SORTABLE = {
    "number": Change.number,
    "state": Change.state,
    "change_type": Change.change_type,
    "planned_start": Change.planned_start,
    "planned_end": Change.planned_end,
    "risk_score": Change.risk_score,
    "opened_at": Change.opened_at,
    "updated_at": Change.updated_at,
}


# --- lookups -----------------------------------------------------------------------------------


def upcoming_for_ci(*, session: Session, ci_id: int, now: datetime | None = None) -> list[Change]:
    """Changes on the CI that are not finished and whose window (if any) is not over."""
    now = now or records.now()
    return list(
        session.scalars(
            select(Change)
            .join(ChangeCI, ChangeCI.change_id == Change.id)
            .where(
                ChangeCI.ci_id == ci_id,
                Change.state.in_([state.value for state in OPEN_STATES]),
                or_(Change.planned_end.is_(None), Change.planned_end >= now),
            )
            .order_by(Change.planned_start.asc().nulls_last(), Change.id)
        ).all()
    )


def _filtered(
    statement: Select[Any],
    filters: ChangeFilters,
    *,
    session: Session,
    custom: Mapping[str, list[str]] | None = None,
) -> Select[Any]:
    """``statement`` narrowed to the list's filters and the ``cf.<name>`` filters ``custom``."""
    statement = statement.where(
        *custom_fields.filter_clauses(
            session=session,
            record_type=RecordType.change,
            column=Change.custom_fields,
            params=custom or {},
        )
    )
    if filters.state:
        statement = statement.where(Change.state.in_([item.value for item in filters.state]))
    if filters.change_type:
        statement = statement.where(
            Change.change_type.in_([item.value for item in filters.change_type])
        )
    for column, value in (
        (Change.requester_id, filters.requester_id),
        (Change.assignment_group_id, filters.assignment_group_id),
        (Change.implementer_id, filters.implementer_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.ci_id is not None:
        statement = statement.where(
            Change.id.in_(select(ChangeCI.change_id).where(ChangeCI.ci_id == filters.ci_id))
        )
    if filters.risk_level:
        statement = statement.where(
            Change.risk_level.in_([item.value for item in filters.risk_level])
        )
    if filters.planned_from is not None:
        statement = statement.where(Change.planned_end > filters.planned_from)
    if filters.planned_to is not None:
        statement = statement.where(Change.planned_start < filters.planned_to)
    if filters.q:
        statement = statement.where(
            or_(
                Change.title.icontains(filters.q, autoescape=True),
                Change.number.icontains(filters.q, autoescape=True),
                custom_fields.search_vector(CUSTOM_SEARCH_CONFIG, Change.custom_fields).op("@@")(
                    func.websearch_to_tsquery(
                        literal_column(f"'{CUSTOM_SEARCH_CONFIG}'::regconfig"), filters.q
                    )
                ),
            )
        )
    return statement


def search(
    *,
    session: Session,
    params: PageParams,
    filters: ChangeFilters,
    custom: Mapping[str, list[str]] | None = None,
    awaiting_decision_of: User | None = None,
) -> Page[Any]:
    """A page of changes. ``filters.q`` matches part of the title or number, or the words of a
    custom field's string value; ``custom`` holds the ``cf.<name>`` filters, and ``params.sort``
    may name custom fields (customfields.service). With ``awaiting_decision_of``, only the
    changes whose open CAB round waits for that person's decision."""
    statement = _filtered(select(Change), filters, session=session, custom=custom)
    if awaiting_decision_of is not None:
        statement = statement.where(cab.awaiting_decision_of(awaiting_decision_of))
    sortable = CHANGE_SORTABLE | custom_fields.sortable(
        session=session,
        record_type=RecordType.change,
        column=Change.custom_fields,
        sort=params.sort,
    )
    return paginate(session, statement, params, sortable=sortable, default_sort=[Change.id.desc()])


def matching_ids(
    *,
    session: Session,
    filters: ChangeFilters,
    limit: int,
    custom: Mapping[str, list[str]] | None = None,
) -> tuple[int, list[int]]:
    """How many changes match ``filters`` and ``custom`` (the list's contract), and the ids of
    the first ``limit`` of them, oldest first (bulk updates select by a filter)."""
    total = (
        session.scalar(
            _filtered(select(func.count(Change.id)), filters, session=session, custom=custom)
        )
        or 0
    )
    matching = _filtered(select(Change.id), filters, session=session, custom=custom)
    ids = session.scalars(matching.order_by(Change.id).limit(limit))
    return total, list(ids)


def history(*, session: Session, change_id: int, params: PageParams) -> Page[Any]:
    return events.history(
        session=session, entity_type=EntityType.change, entity_id=change_id, params=params
    )


# --- risk --------------------------------------------------------------------------------------


def _rated(ci: ConfigurationItem) -> risk.RatedCI:
    return risk.RatedCI(id=ci.id, name=ci.name, criticality=ci.criticality)


def impacted_cis(*, session: Session, ci_ids: Sequence[int]) -> list[ConfigurationItem]:
    """The CIs that rely on ``ci_ids`` (downstream), nearest first."""
    depths = cmdb_service.impact_depths(
        session=session,
        ci_ids=ci_ids,
        direction=ImpactDirection.downstream,
        depth=CHANGE_IMPACT_DEPTH,
    )
    found = cmdb_service.get_many(session=session, ci_ids=depths)
    return sorted(found, key=lambda ci: (depths[ci.id], ci.criticality, ci.name))


def assess_risk(*, session: Session, change: Change) -> risk.RiskAssessment:
    affected = cmdb_service.get_many(session=session, ci_ids=change.ci_ids)
    impacted = impacted_cis(session=session, ci_ids=change.ci_ids)
    return risk.assess(
        answers=change.risk_answers or {},
        affected=[_rated(ci) for ci in affected],
        impacted=[_rated(ci) for ci in impacted],
        impact_depth=CHANGE_IMPACT_DEPTH,
    )


def _refresh_risk(session: Session, change: Change, actor: User | None, *, record: bool) -> None:
    assessment = assess_risk(session=session, change=change)
    old_score, old_level = change.risk_score, change.risk_level
    change.risk_score = assessment.score
    change.risk_level = assessment.level.value
    change.risk_explanation = assessment.explanation
    if record and (old_score, old_level) != (assessment.score, assessment.level.value):
        records.append_event(
            session,
            change,
            EventKind.field_changed,
            actor,
            field="risk_score",
            old=old_score,
            new=assessment.score,
            data={"level": assessment.level.value, "summary": assessment.explanation["summary"]},
        )


# --- create and update -------------------------------------------------------------------------


def _check_refs(
    session: Session,
    *,
    requester_id: int | None = None,
    implementer_id: int | None = None,
    assignment_group_id: int | None = None,
) -> None:
    for field, user_id in (("requester_id", requester_id), ("implementer_id", implementer_id)):
        if user_id is not None and auth_service.get_user(session=session, user_id=user_id) is None:
            raise _unknown(field, user_id)
    if (
        assignment_group_id is not None
        and auth_service.get_team(session=session, team_id=assignment_group_id) is None
    ):
        raise _unknown("assignment_group_id", assignment_group_id)


def _check_implementer_did_not_approve(change: Change, implementer_id: int | None) -> None:
    """An approver of the change's current round cannot become its implementer: nobody
    implements what they approved themselves (the CAB's decisions stand)."""
    approved = [
        approval
        for approval in change.approvals
        if approval.round == change.cab_round
        and approval.approver_id == implementer_id
        and approval.decision == Decision.approved
    ]
    if implementer_id is not None and approved:
        raise Conflict(
            f"User {implementer_id} approved {change.number} in round {change.cab_round}; "
            "choose another implementer",
            field="implementer_id",
        )


def _unknown(field: str, value: int) -> UnprocessableEntity:
    return UnprocessableEntity(f"{field} {value} does not exist", field=field)


TEMPLATE_FIELDS = ("justification", "implementation_plan", "backout_plan", "test_plan")


def create(*, session: Session, data: ChangeCreate, actor: User) -> Change:
    template = None
    fields = data.model_dump(
        exclude={"ci_ids", "risk_answers", "change_type", "template_id", "custom_fields"}
    )
    custom_values = custom_fields.validate(
        session=session, record_type=RecordType.change, values=data.custom_fields
    )
    risk_answers = data.risk_answers.model_dump() if data.risk_answers else {}
    if data.change_type == ChangeType.standard:
        if data.template_id is None:
            raise InvalidTemplateUse("A standard change is made from a template: give template_id")
        template = templates.get_template(session=session, template_id=data.template_id)
        if not template.is_active:
            raise InvalidTemplateUse(f"Template {template.name!r} is retired")
        given = [name for name in (*TEMPLATE_FIELDS, "risk_answers") if getattr(data, name)]
        if given:
            raise InvalidTemplateUse(
                "A standard change takes its plans and risk answers from its pre-approved "
                f"template; leave out: {', '.join(given)}",
                fields=given,
            )
        for name in TEMPLATE_FIELDS:
            fields[name] = getattr(template, name)
        fields["title"] = data.title or template.title
        fields["description"] = data.description or template.description
        risk_answers = dict(template.risk_answers)
    elif data.template_id is not None:
        raise InvalidTemplateUse("Only standard changes are made from templates")
    if not fields.get("title"):
        raise UnprocessableEntity("title is required", field="title")

    fields["requester_id"] = fields.get("requester_id") or actor.id
    _check_refs(
        session,
        requester_id=fields["requester_id"],
        implementer_id=fields.get("implementer_id"),
        assignment_group_id=fields.get("assignment_group_id"),
    )
    cis = cmdb_service.get_many(session=session, ci_ids=data.ci_ids)
    number = f"CHG{session.scalar(change_number_seq.next_value()):07d}"
    change = Change(
        number=number,
        raised_by_id=actor.id,
        change_type=data.change_type.value,
        state=ChangeState.new.value,
        template_id=template.id if template else None,
        risk_answers=risk_answers,
        ci_links=[ChangeCI(ci_id=ci.id, ci=ci) for ci in cis],
        opened_at=records.now(),
        custom_fields=custom_values,
        **fields,
    )
    session.add(change)
    session.flush()
    _refresh_risk(session, change, actor, record=False)
    session.flush()
    session.refresh(change)
    records.append_event(
        session,
        change,
        EventKind.created,
        actor,
        new=change.number,
        data={
            "change_type": change.change_type,
            "template_id": change.template_id,
            "ci_ids": change.ci_ids,
            "planned_start": _iso(change.planned_start),
            "planned_end": _iso(change.planned_end),
            "risk_score": change.risk_score,
            "risk_level": change.risk_level,
            "custom_fields": custom_values or None,
        },
    )
    return change


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# Custom fields too: they are the desk's own bookkeeping, not what the CAB authorized.
ALWAYS_EDITABLE = frozenset({"assignment_group_id", "implementer_id", "custom_fields"})


def update(
    *,
    session: Session,
    change_id: int,
    data: ChangeUpdate,
    expected_version: int,
    actor: User,
) -> Change:
    change = records.get(session=session, change_id=change_id, for_update=True)
    check_version(current=change.version, expected=expected_version, what=change.number)
    given = data.model_dump(exclude_unset=True)
    if "title" in given and given["title"] is None:
        raise UnprocessableEntity("title cannot be null", field="title")
    state = ChangeState(change.state)
    frozen = [name for name in given if name not in ALWAYS_EDITABLE]
    if state in TERMINAL_STATES or (frozen and state not in EDITABLE_STATES):
        raise ChangeFrozen(
            f"{change.number} is {state.value}: its plans, window and CIs are what was "
            "authorized; send it back to assess to change them",
            fields=frozen,
        )
    if change.change_type == ChangeType.standard:
        from_template = [name for name in (*TEMPLATE_FIELDS, "risk_answers") if name in given]
        if from_template:
            raise InvalidTemplateUse(
                "A standard change keeps its template's plans and risk answers",
                fields=from_template,
            )
    start = given.get("planned_start", change.planned_start)
    end = given.get("planned_end", change.planned_end)
    if start is not None and end is not None and end <= start:
        raise UnprocessableEntity("planned_end must be after planned_start")
    _check_refs(
        session,
        implementer_id=given.get("implementer_id"),
        assignment_group_id=given.get("assignment_group_id"),
    )
    _check_implementer_did_not_approve(change, given.get("implementer_id"))

    changed: list[tuple[str, Any, Any]] = []
    custom_changes: list[custom_fields.FieldChange] = []
    if "custom_fields" in given:
        given.pop("custom_fields")
        after = custom_fields.validate(
            session=session,
            record_type=RecordType.change,
            values=data.custom_fields,
            current=change.custom_fields,
        )
        custom_changes = custom_fields.changes(change.custom_fields, after)
        change.custom_fields = after
    rescore = False
    if "ci_ids" in given:
        new_ids = list(dict.fromkeys(given.pop("ci_ids") or []))
        if sorted(new_ids) != sorted(change.ci_ids):
            cis = cmdb_service.get_many(session=session, ci_ids=new_ids)
            changed.append(("ci_ids", change.ci_ids, sorted(new_ids)))
            # Remove and add only the differences: re-adding a kept link would collide.
            for link in [link for link in change.ci_links if link.ci_id not in new_ids]:
                change.ci_links.remove(link)
            kept = set(change.ci_ids)
            change.ci_links.extend(ChangeCI(ci_id=ci.id, ci=ci) for ci in cis if ci.id not in kept)
            rescore = True
    if "risk_answers" in given:
        answers = given.pop("risk_answers") or {}
        if answers != change.risk_answers:
            changed.append(("risk_answers", change.risk_answers, answers))
            change.risk_answers = answers
            rescore = True
    for field, value in given.items():
        if getattr(change, field) != value:
            changed.append((field, getattr(change, field), value))
            setattr(change, field, value)
    if not changed and not custom_changes:
        return change
    records.touch(change)
    session.flush()
    for field, old, new in changed:
        kind = EventKind.assigned if field in ALWAYS_EDITABLE else EventKind.field_changed
        records.append_event(session, change, kind, actor, field=field, old=old, new=new)
    for custom in custom_changes:
        records.append_event(
            session,
            change,
            EventKind.field_changed,
            actor,
            field=custom.event_field,
            old=custom_fields.event_text(custom.old),
            new=custom_fields.event_text(custom.new),
            data={"old": custom.old, "new": custom.new},
        )
    if rescore:
        _refresh_risk(session, change, actor, record=True)
    session.flush()
    return change


# --- workflow ----------------------------------------------------------------------------------


def allowed_moves(change: Change) -> list[str]:
    """States the change may move to now, through POST /transition."""
    state = ChangeState(change.state)
    moves = list(TRANSITIONS[ChangeType(change.change_type)].get(state, ()))
    if state == ChangeState.authorize and change.cab_outcome != CabOutcome.approved:
        moves.remove(ChangeState.scheduled)
    return [move.value for move in moves]


def _missing_for(change: Change, target: ChangeState) -> list[str]:
    needed: list[str] = []
    if target in (ChangeState.authorize, ChangeState.scheduled):
        needed += ["planned_start", "planned_end"]
    if target == ChangeState.authorize:
        needed += ["implementation_plan", "backout_plan"]
        if change.change_type == ChangeType.normal:
            needed += ["test_plan", "justification"]
    missing = [name for name in needed if not getattr(change, name)]
    if target in (ChangeState.authorize, ChangeState.scheduled) and not change.ci_links:
        missing.append("ci_ids")
    return missing


def _enter(
    session: Session,
    change: Change,
    target: ChangeState,
    actor: User,
    *,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move the change (already checked) and record it."""
    old = change.state
    now = records.now()
    change.state = target.value
    if target in (ChangeState.assess, ChangeState.new):
        # Sent back: the next authorization is a new round over the new plan.
        change.cab_outcome = None
        change.cab_stage = None
        change.conflict_override_reason = None
        change.conflict_overridden_by_id = None
    if target == ChangeState.implement:
        change.actual_start = now
    if target == ChangeState.review:
        change.actual_end = now
    if target in TERMINAL_STATES:
        change.closed_at = now
    records.touch(change)
    records.append_event(
        session,
        change,
        EventKind.state_changed,
        actor,
        field="state",
        old=old,
        new=target.value,
        data={**({"reason": reason} if reason else {}), **(data or {})} or None,
    )
    if target == ChangeState.authorize:
        cab.open_round(
            session=session, change=change, stage=ApprovalStage.authorization, actor=actor
        )
    if target == ChangeState.review and change.change_type == ChangeType.emergency:
        cab.open_round(
            session=session, change=change, stage=ApprovalStage.retrospective, actor=actor
        )
    session.flush()


def _check_move(change: Change, target: ChangeState) -> None:
    state = ChangeState(change.state)
    if state == ChangeState.review:
        raise InvalidTransition(
            state.value,
            target.value,
            [outcome.value for outcome in REVIEW_OUTCOME_STATE.values()],
            via=REVIEW_PATH.format(id=change.id),
        )
    allowed = allowed_moves(change)
    if target.value not in allowed:
        extra = {}
        if state == ChangeState.authorize and target == ChangeState.scheduled:
            extra["cab_outcome"] = change.cab_outcome
        raise InvalidTransition(state.value, target.value, allowed, **extra)
    missing = _missing_for(change, target)
    if missing:
        raise ChangeIncomplete(
            f"{change.number} cannot move to {target.value} without: {', '.join(missing)}",
            missing=missing,
        )


def transition(
    *,
    session: Session,
    change_id: int,
    target: ChangeState,
    expected_version: int,
    actor: User,
    reason: str | None = None,
) -> Change:
    """Move a change along its type's workflow. Scheduling checks the calendar (409 with the
    conflicts); a holder of change:override_conflict overrides through schedule_over_conflicts."""
    target = ChangeState(target)
    change = records.get(session=session, change_id=change_id, for_update=True)
    check_version(current=change.version, expected=expected_version, what=change.number)
    _check_move(change, target)
    if target in (ChangeState.authorize, ChangeState.scheduled):
        _refresh_risk(session, change, actor, record=True)
    if target == ChangeState.scheduled:
        conflicts = collisions.lock_and_find_conflicts(session=session, change=change)
        if conflicts:
            raise ScheduleConflict(
                f"{change.number} collides with {len(conflicts)} calendar entr"
                f"{'y' if len(conflicts) == 1 else 'ies'}; move the window, or a holder of "
                f"{OVERRIDE_PERMISSION} can override with a reason",
                conflicts=conflicts,
                override=OVERRIDE_PATH.format(id=change.id),
            )
    _enter(session, change, target, actor, reason=reason)
    return change


def schedule_over_conflicts(
    *, session: Session, change_id: int, expected_version: int, reason: str, actor: User
) -> Change:
    """Schedule a change despite its conflicts, recording who, why and over what."""
    if not has_permission(actor, OVERRIDE_PERMISSION):
        raise Forbidden(f"Overriding needs the {OVERRIDE_PERMISSION!r} permission")
    change = records.get(session=session, change_id=change_id, for_update=True)
    check_version(current=change.version, expected=expected_version, what=change.number)
    _check_move(change, ChangeState.scheduled)
    _refresh_risk(session, change, actor, record=True)
    conflicts = collisions.lock_and_find_conflicts(session=session, change=change)
    if conflicts:
        change.conflict_override_reason = reason
        change.conflict_overridden_by_id = actor.id
        records.append_event(
            session,
            change,
            EventKind.field_changed,
            actor,
            field="conflict_override",
            new=reason,
            data={"reason": reason, "conflicts": conflicts},
        )
    _enter(
        session,
        change,
        ChangeState.scheduled,
        actor,
        reason=reason,
        data={"overridden_conflicts": len(conflicts)},
    )
    return change


# --- review and incidents ----------------------------------------------------------------------


def lock_linkable(*, session: Session, change_id: int) -> Change:
    """The change, locked, when it may be named as the cause of incidents (from implementation
    on); BadRequest before that."""
    change = records.get(session=session, change_id=change_id, for_update=True)
    if change.state in (ChangeState.new, ChangeState.assess, ChangeState.authorize) or (
        change.state == ChangeState.cancelled
    ):
        raise BadRequest(
            f"{change.number} is {change.state}: only an implemented change causes incidents"
        )
    return change


def note_caused_incident(
    *, session: Session, change: Change, incident_id: int, incident_number: str, actor: User
) -> None:
    """Log on the change that it caused an incident (the incident domain records its side)."""
    records.append_event(
        session,
        change,
        EventKind.field_changed,
        actor,
        field="caused_incident",
        new=incident_number,
        data={"incident_id": incident_id},
    )


def lock_reviewable(
    *, session: Session, change_id: int, data: ReviewCreate, expected_version: int
) -> Change:
    """The change, locked, when its post-implementation review may be recorded now."""
    change = records.get(session=session, change_id=change_id, for_update=True)
    check_version(current=change.version, expected=expected_version, what=change.number)
    if change.state != ChangeState.review:
        raise InvalidTransition(
            change.state,
            REVIEW_OUTCOME_STATE[data.outcome].value,
            allowed_moves(change),
        )
    if change.change_type == ChangeType.emergency and change.cab_outcome == CabOutcome.pending:
        raise RetrospectivePending(
            f"{change.number} is an emergency change: the CAB's retrospective review must "
            "decide before the PIR closes it",
            cab_round=change.cab_round,
        )
    return change


def record_review(*, session: Session, change: Change, data: ReviewCreate, actor: User) -> Change:
    """The post-implementation review: outcome, caused incidents, notes. It closes the change
    as closed, failed or backed_out (``lock_reviewable`` first: an emergency change needs its
    retrospective CAB before)."""
    change.review_outcome = data.outcome.value
    change.review_caused_incidents = data.caused_incidents
    change.review_notes = data.notes
    change.reviewed_by_id = actor.id
    change.reviewed_at = records.now()
    records.append_event(
        session,
        change,
        EventKind.field_changed,
        actor,
        field="review",
        new=data.outcome.value,
        data={
            "outcome": data.outcome.value,
            "caused_incidents": data.caused_incidents,
            "incident_ids": list(dict.fromkeys(data.incident_ids)),
            "notes": data.notes,
        },
    )
    _enter(session, change, REVIEW_OUTCOME_STATE[data.outcome], actor)
    return change
