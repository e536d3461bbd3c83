"""Approvals of request items: the stages of the item's policy (at the version ordered), run one
after another, with the approvers of a stage asked in parallel; a stage's condition may skip it;
decisions by approvers or their delegates; reminders and escalation of waiting approvals.

Nobody approves their own request: the requester is never asked, and a requester who stands in
for an approver (as delegate or manager) is refused. Every step is an event in the item's log.
"""

import operator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from operational.auth import reporting
from operational.auth import service as auth_service
from operational.auth.models import User
from operational.core.errors import NotFound, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.requests.enums import (
    ApprovalRule,
    ApprovalState,
    ApproverKind,
    ConditionOperator,
    StageState,
)
from operational.requests.exceptions import (
    ApprovalAlreadyDecided,
    NoApprover,
    NotYourApproval,
    SelfApproval,
)
from operational.requests.models import Approval, ApprovalStage, Delegation, RequestItem
from operational.requests.recording import now_or, record
from operational.requests.schemas import ApprovalFilters, DelegationCreate

_COMPARE = {
    ConditionOperator.gt: operator.gt,
    ConditionOperator.gte: operator.ge,
    ConditionOperator.lt: operator.lt,
    ConditionOperator.lte: operator.le,
    ConditionOperator.eq: operator.eq,
    ConditionOperator.ne: operator.ne,
    ConditionOperator.in_: lambda actual, allowed: actual in allowed,
}
APPROVAL_SORTABLE = {
    "id": Approval.id,
    "requested_at": Approval.requested_at,
    "decided_at": Approval.decided_at,
    "state": Approval.state,
}


@dataclass(frozen=True)
class Progress:
    """Where an item's approval stands after a step: ``pending``, ``approved`` or ``rejected``
    (with the reason)."""

    outcome: str
    reason: str | None = None


# ------------------------------------------------------------------------------ conditions


def _value(item: RequestItem, field: str) -> Any:
    if field == "cost":
        return item.cost
    if field == "quantity":
        return item.quantity
    return (item.answers or {}).get(field.removeprefix("answers."))


def _comparable(actual: Any, expected: Any) -> tuple[Any, Any]:
    if isinstance(actual, Decimal) and isinstance(expected, int | float):
        return actual, Decimal(str(expected))
    return actual, expected


def condition_holds(condition: dict[str, Any] | None, item: RequestItem) -> bool:
    """No condition: the stage runs. A missing or incomparable value does not hold."""
    if not condition:
        return True
    actual = _value(item, condition["field"])
    if actual is None:
        return False
    try:
        return bool(
            _COMPARE[ConditionOperator(condition["op"])](*_comparable(actual, condition["value"]))
        )
    except (TypeError, ValueError, ArithmeticError):
        return False


def describe(condition: dict[str, Any]) -> str:
    return f"{condition['field']} {condition['op']} {condition['value']!r}"


# ------------------------------------------------------------------------------- approvers


def approvers_for(*, session: Session, stage: dict[str, Any], requester: User) -> list[User]:
    """Who a stage asks, without the requester; a 422 when that leaves too few."""
    kind = ApproverKind(stage["approvers"])
    found: list[User | None]
    if kind == ApproverKind.manager:
        found = [reporting.manager_of(session=session, user=requester)]
    elif kind == ApproverKind.cost_center_owner:
        found = [reporting.cost_center_owner_of(session=session, user=requester)]
    elif kind == ApproverKind.team:
        team = auth_service.get_team(session=session, team_id=stage["team_id"])
        found = [member.user for member in team.members] if team is not None else []
    else:
        found = [auth_service.get_user(session=session, user_id=uid) for uid in stage["user_ids"]]
    people = {user.id: user for user in found if user is not None and user.is_active}
    people.pop(requester.id, None)
    needed = stage["quorum"] if stage["rule"] == ApprovalRule.quorum else 1
    if len(people) < needed:
        what = {
            ApproverKind.manager: "no manager is recorded for the requester",
            ApproverKind.cost_center_owner: "the requester's cost centre has no owner",
        }.get(kind, f"it has {len(people)} approver(s) besides the requester")
        raise NoApprover(
            f"Stage {stage['name']!r} needs {needed} approval(s) but {what}",
            stage=stage["name"],
        )
    return sorted(people.values(), key=lambda user: user.id)


# ---------------------------------------------------------------------------------- stages


def instantiate(
    *, session: Session, item: RequestItem, policy: dict[str, Any], requester: User, now: datetime
) -> list[ApprovalStage]:
    """The item's stages, each waiting or skipped (its condition does not hold). Approvers of
    the stages that will run are checked now, so that an order nobody could approve is a 422."""
    stages = []
    for position, stage in enumerate(policy.get("stages", []), start=1):
        runs = condition_holds(stage.get("condition"), item)
        if runs:
            approvers_for(session=session, stage=stage, requester=requester)
        row = ApprovalStage(
            request_item_id=item.id,
            position=position,
            name=stage["name"],
            rule=stage["rule"],
            quorum=stage.get("quorum"),
            state=StageState.waiting.value if runs else StageState.skipped.value,
            note=None if runs else f"skipped: {describe(stage['condition'])} does not hold",
            reminder_minutes=stage.get("reminder_minutes"),
            escalation_minutes=stage.get("escalation_minutes"),
            ended_at=None if runs else now,
        )
        session.add(row)
        stages.append(row)
        session.flush()
        if not runs:
            record(
                session,
                item,
                EventKind.approval_skipped,
                None,
                now,
                field="approval",
                new=row.name,
                data={"stage": position, "condition": stage["condition"]},
            )
    return stages


def stages_of(*, session: Session, item_id: int) -> list[ApprovalStage]:
    return list(
        session.scalars(
            select(ApprovalStage)
            .where(ApprovalStage.request_item_id == item_id)
            .order_by(ApprovalStage.position)
        ).unique()
    )


def _first_alert(stage: ApprovalStage, due: Any, start: datetime) -> datetime | None:
    minutes = stage.reminder_minutes or stage.escalation_minutes
    return due(start, minutes) if minutes else None


def advance(
    *,
    session: Session,
    item: RequestItem,
    policy: dict[str, Any],
    requester: User,
    now: datetime,
    due: Any,
) -> Progress:
    """Start the next waiting stage, or report the approval over. ``due(start, minutes)`` is
    when business minutes from ``start`` run out on the item's calendar."""
    stages = stages_of(session=session, item_id=item.id)
    if any(stage.state == StageState.pending for stage in stages):
        return Progress("pending")
    waiting = [stage for stage in stages if stage.state == StageState.waiting]
    if not waiting:
        return Progress("approved")
    stage = waiting[0]
    stage.state = StageState.pending.value
    stage.started_at = now
    definition = policy["stages"][stage.position - 1]
    approvers = approvers_for(session=session, stage=definition, requester=requester)
    for approver in approvers:
        session.add(
            Approval(
                stage_id=stage.id,
                request_item_id=item.id,
                approver_id=approver.id,
                state=ApprovalState.pending.value,
                requested_at=now,
                next_alert_at=_first_alert(stage, due, now),
            )
        )
    session.flush()
    record(
        session,
        item,
        EventKind.approval_requested,
        None,
        now,
        field="approval",
        new=stage.name,
        data={
            "stage": stage.position,
            "rule": stage.rule,
            "quorum": stage.quorum,
            "approver_ids": [approver.id for approver in approvers],
            "policy_version": item.item_version,
        },
    )
    return Progress("pending")


def _stage_outcome(stage: ApprovalStage) -> str | None:
    states = [approval.state for approval in stage.approvals]
    approved = states.count(ApprovalState.approved)
    rejected = states.count(ApprovalState.rejected)
    pending = states.count(ApprovalState.pending)
    if stage.rule == ApprovalRule.one:
        return "approved" if approved else "rejected" if rejected else None
    if stage.rule == ApprovalRule.all:
        return "rejected" if rejected else "approved" if not pending else None
    if approved >= (stage.quorum or 1):
        return "approved"
    if approved + pending < (stage.quorum or 1):
        return "rejected"  # the quorum can no longer be reached
    return None


def _end_stage(stage: ApprovalStage, state: StageState, now: datetime, note: str) -> None:
    stage.state = state.value
    stage.ended_at = now
    stage.note = note
    for approval in stage.approvals:
        if approval.state == ApprovalState.pending:
            approval.state = ApprovalState.not_required.value
            approval.next_alert_at = None


def cancel_open_stages(*, session: Session, item: RequestItem, now: datetime, note: str) -> None:
    """The item ended: stages not decided yet are cancelled, their approvals not required."""
    for stage in stages_of(session=session, item_id=item.id):
        if stage.state in (StageState.waiting, StageState.pending):
            _end_stage(stage, StageState.cancelled, now, note)
    session.flush()


# --------------------------------------------------------------------------------- deciding


def delegators_of(*, session: Session, user_id: int, now: datetime) -> list[int]:
    """Whose approvals ``user_id`` may decide now, as their delegate."""
    return list(
        session.scalars(
            select(Delegation.delegator_id).where(
                Delegation.delegate_id == user_id,
                Delegation.starts_at <= now,
                Delegation.ends_at > now,
                Delegation.revoked_at.is_(None),
            )
        )
    )


def _stands_in_as(session: Session, approval: Approval, actor: User, now: datetime) -> str | None:
    """How ``actor`` may decide: as the approver, their delegate, or (once escalated) their
    manager; None when they may not."""
    if actor.id == approval.approver_id:
        return "approver"
    if approval.approver_id in delegators_of(session=session, user_id=actor.id, now=now):
        return "delegate"
    if approval.escalated_at is not None and approval.approver.manager_id == actor.id:
        return "manager"
    return None


def decide(
    *,
    session: Session,
    approval: Approval,
    actor: User,
    approve: bool,
    comment: str | None,
    now: datetime | None = None,
) -> ApprovalStage:
    """Record one decision and settle its stage when it is decided; returns the stage. The
    caller locks the item (its log and version move)."""
    now = now_or(now)
    item = approval.item
    if actor.id == item.request.requester_id:
        raise SelfApproval(f"{actor.display_name} ordered {item.number}: they cannot decide on it")
    role = _stands_in_as(session, approval, actor, now)
    if role is None:
        raise NotYourApproval(
            f"Approval {approval.id} waits for {approval.approver.display_name}, not for you"
        )
    if approval.state != ApprovalState.pending:
        raise ApprovalAlreadyDecided(
            f"Approval {approval.id} is {approval.state}", state=approval.state
        )
    if not approve and not (comment and comment.strip()):
        raise UnprocessableEntity("A rejection needs a comment: the reason", field="comment")
    approval.state = (ApprovalState.approved if approve else ApprovalState.rejected).value
    approval.decided_at = now
    approval.decided_by_id = actor.id
    approval.comment = comment
    approval.next_alert_at = None
    stage = approval.stage
    record(
        session,
        item,
        EventKind.approval_decided,
        actor,
        now,
        field="approval",
        old=ApprovalState.pending.value,
        new=approval.state,
        data={
            "approval_id": approval.id,
            "stage": stage.position,
            "stage_name": stage.name,
            "approver_id": approval.approver_id,
            "on_behalf_of": approval.approver_id if role != "approver" else None,
            "as": role,
            "comment": comment,
            "policy_version": item.item_version,
        },
    )
    session.flush()
    session.refresh(stage)
    outcome = _stage_outcome(stage)
    if outcome is not None:
        note = f"{outcome} under the {stage.rule} rule" + (
            f" (quorum {stage.quorum})" if stage.quorum else ""
        )
        _end_stage(stage, StageState(outcome), now, note)
    session.flush()
    return stage


# --------------------------------------------------------------------------------- reading


def get(*, session: Session, approval_id: int) -> Approval:
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise NotFound(f"Approval {approval_id} does not exist")
    return approval


def _deciding(session: Session, user: User, now: datetime) -> Any:
    """Approvals ``user`` may decide: theirs, those of people they stand in for, and the
    escalated ones of their direct reports."""
    return or_(
        Approval.approver_id == user.id,
        Approval.approver_id.in_(delegators_of(session=session, user_id=user.id, now=now)),
        and_(
            Approval.escalated_at.is_not(None),
            Approval.approver_id.in_(reporting.direct_reports(session=session, manager_id=user.id)),
        ),
    )


def search(
    *,
    session: Session,
    viewer: User,
    filters: ApprovalFilters,
    params: PageParams,
    read_all: bool,
    now: datetime | None = None,
    search_items: Any = None,
) -> Page[Any]:
    """Without ``mine``, everyone who sees every request sees every approval; others see theirs."""
    now = now_or(now)
    statement: Select[Any] = select(Approval)
    if filters.mine == "pending":
        statement = statement.where(
            Approval.state == ApprovalState.pending, _deciding(session, viewer, now)
        )
    elif filters.mine == "all" or not read_all:
        statement = statement.where(
            or_(_deciding(session, viewer, now), Approval.decided_by_id == viewer.id)
        )
    if filters.state:
        statement = statement.where(Approval.state.in_([state.value for state in filters.state]))
    if filters.approver_id is not None:
        statement = statement.where(Approval.approver_id == filters.approver_id)
    if filters.request_item_id is not None:
        statement = statement.where(Approval.request_item_id == filters.request_item_id)
    if filters.q and filters.q.strip() and search_items is not None:
        statement = statement.where(Approval.request_item_id.in_(search_items(filters.q.strip())))
    return paginate(
        session,
        statement,
        params,
        sortable=APPROVAL_SORTABLE,
        default_sort=[Approval.requested_at.desc(), Approval.id.desc()],
    )


# ------------------------------------------------------------------ reminders and escalation


def due_alerts(*, session: Session, now: datetime, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(Approval.id)
            .where(Approval.state == ApprovalState.pending, Approval.next_alert_at <= now)
            .order_by(Approval.next_alert_at, Approval.id)
            .limit(limit)
        )
    )


def chase(*, session: Session, approval: Approval, now: datetime, due: Any) -> list[str]:
    """Remind a pending approver once their reminder period has passed, then escalate to their
    manager (who may decide in their place from then on) once the escalation period has; returns
    what was done. Periods are business minutes from the request of the approval."""
    done: list[str] = []
    stage, item = approval.stage, approval.item
    reminder_at = (
        due(approval.requested_at, stage.reminder_minutes) if stage.reminder_minutes else None
    )
    escalation_at = (
        due(approval.requested_at, stage.escalation_minutes) if stage.escalation_minutes else None
    )
    if reminder_at is not None and reminder_at <= now and approval.reminded_at is None:
        approval.reminded_at = now
        record(
            session,
            item,
            EventKind.approval_reminded,
            None,
            now,
            field="approval",
            new=approval.approver.display_name,
            data={
                "approval_id": approval.id,
                "approver_id": approval.approver_id,
                "stage": stage.position,
            },
            actor_label="sla",
        )
        done.append("reminded")
    if escalation_at is not None and escalation_at <= now and approval.escalated_at is None:
        manager = reporting.manager_of(session=session, user=approval.approver)
        approval.escalated_at = now
        record(
            session,
            item,
            EventKind.approval_escalated,
            None,
            now,
            field="approval",
            old=approval.approver.display_name,
            new=manager.display_name if manager else None,
            data={
                "approval_id": approval.id,
                "approver_id": approval.approver_id,
                "manager_id": manager.id if manager else None,
                "stage": stage.position,
            },
            actor_label="sla",
        )
        done.append("escalated")
    pending = [at for at in (reminder_at, escalation_at) if at is not None and at > now]
    approval.next_alert_at = min(pending) if pending else None
    session.flush()
    return done


# ------------------------------------------------------------------------------ delegations


def create_delegation(
    *, session: Session, data: DelegationCreate, actor: User, delegator: User
) -> Delegation:
    delegate = auth_service.get_user(session=session, user_id=data.delegate_id)
    if delegate is None or not delegate.is_active:
        raise UnprocessableEntity(f"User {data.delegate_id} cannot stand in", field="delegate_id")
    if delegate.id == delegator.id:
        raise UnprocessableEntity("Nobody delegates to themselves", field="delegate_id")
    delegation = Delegation(
        delegator_id=delegator.id,
        delegate_id=delegate.id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason,
    )
    session.add(delegation)
    session.flush()
    events.append(
        session=session,
        entity_type=EntityType.user,
        entity_id=delegator.id,
        kind=EventKind.delegated,
        actor=actor,
        field="approvals",
        new_value=delegate.display_name,
        data={
            "delegation_id": delegation.id,
            "delegate_id": delegate.id,
            "starts_at": data.starts_at.isoformat(),
            "ends_at": data.ends_at.isoformat(),
        },
    )
    session.refresh(delegation)
    return delegation


def get_delegation(*, session: Session, delegation_id: int) -> Delegation:
    found = session.get(Delegation, delegation_id)
    if found is None:
        raise NotFound(f"Delegation {delegation_id} does not exist")
    return found


def list_delegations(*, session: Session, params: PageParams, user_id: int | None) -> Page[Any]:
    statement = select(Delegation)
    if user_id is not None:
        statement = statement.where(
            or_(Delegation.delegator_id == user_id, Delegation.delegate_id == user_id)
        )
    return paginate(
        session,
        statement,
        params,
        sortable={"starts_at": Delegation.starts_at, "ends_at": Delegation.ends_at},
        default_sort=[Delegation.starts_at.desc(), Delegation.id.desc()],
    )


def revoke_delegation(*, session: Session, delegation: Delegation, now: datetime) -> Delegation:
    if delegation.revoked_at is None:
        delegation.revoked_at = now
        session.flush()
    return delegation


def may_see(*, session: Session, approval: Approval, user: User) -> bool:
    """The approver, whoever stands in for them now, whoever decided it, and the requester."""
    return (
        approval.decided_by_id == user.id
        or approval.item.request.requester_id == user.id
        or _stands_in_as(session, approval, user, now_or(None)) is not None
    )
