"""Approvals of request items: the stages of the item's policy (at the version ordered), run one
after another, with the approvers of a stage asked in parallel; a stage's condition may skip it;
decisions by approvers or their delegates; reminders and escalation of waiting approvals,
through the SLA engine's alerts and escalation rules (record type ``request_approval``).

Nobody approves their own request: the requester is never asked, and a requester who stands in
for an approver (as delegate or manager) is refused. Every step is an event in the item's log.
"""

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from operational.auth import reporting
from operational.auth import service as auth_service
from operational.auth.models import User
from operational.core.config import get_settings
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
from operational.sla import escalation as sla_escalation
from operational.sla.enums import EscalationAction, RecordType
from operational.sla.models import SlaAlert, SlaEscalationRule, SlaNotification

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
            reminder_minutes=reminder_period(stage, policy),
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


def reminder_period(stage: dict[str, Any], policy: dict[str, Any]) -> int | None:
    """Business minutes a stage's approvers may wait before they are reminded: the stage's own
    ``reminder_minutes``, else the policy's, else ``ITSM_APPROVAL_REMINDER_MINUTES`` (0: none);
    never later than the stage's ``escalation_minutes`` (reminded, then escalated)."""
    minutes = (
        stage.get("reminder_minutes")
        or policy.get("reminder_minutes")
        or get_settings().approval_reminder_minutes
        or None
    )
    escalation = stage.get("escalation_minutes")
    if escalation and (minutes is None or minutes > escalation):
        return escalation
    return minutes


def stages_of(*, session: Session, item_id: int) -> list[ApprovalStage]:
    return list(
        session.scalars(
            select(ApprovalStage)
            .where(ApprovalStage.request_item_id == item_id)
            .order_by(ApprovalStage.position)
        ).unique()
    )


def _first_alert(stage: ApprovalStage, due: Any, start: datetime) -> datetime | None:
    return due(start, stage.reminder_minutes) if stage.reminder_minutes else None


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
    if approval.escalated_to_id == actor.id:
        return "manager" if approval.approver.manager_id == actor.id else "escalated"
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
    """Approvals ``user`` may decide: theirs, those of people they stand in for, and those
    escalated to them (their direct reports', or a rule's)."""
    return or_(
        Approval.approver_id == user.id,
        Approval.approver_id.in_(delegators_of(session=session, user_id=user.id, now=now)),
        Approval.escalated_to_id == user.id,
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


@dataclass
class Escalated:
    """One escalation rule that fired for an approval: what it did, and the notification it
    recorded (handed to the outbox by the flow)."""

    action: str
    outcome: str
    notification: SlaNotification | None = None


@dataclass
class Chased:
    """What one look at a waiting approval did."""

    reminded: bool = False
    escalations: list[Escalated] = field(default_factory=list)

    @property
    def done(self) -> list[str]:
        """``reminded``, then ``escalated`` or ``notified`` per rule that acted."""
        acted = {EscalationAction.escalate: "escalated", EscalationAction.notify: "notified"}
        return (["reminded"] if self.reminded else []) + [
            acted[EscalationAction(e.action)] for e in self.escalations if e.outcome == "done"
        ]


def _rule_due(
    approval: Approval,
    rule: SlaEscalationRule,
    reminder_at: datetime,
    due: Callable[[datetime, int], datetime],
) -> datetime:
    """When a rule fires for an approval: the rule's delay after the reminder; a stage with its
    own ``escalation_minutes`` says when instead (from the request, never before the reminder)."""
    stage = approval.stage
    if stage.escalation_minutes:
        return max(reminder_at, due(approval.requested_at, stage.escalation_minutes))
    return due(reminder_at, rule.delay_minutes) if rule.delay_minutes else reminder_at


def chase(
    *, session: Session, approval: Approval, now: datetime, due: Callable[[datetime, int], datetime]
) -> Chased:
    """Remind a pending approver once their reminder period has run out (business minutes on
    the item's calendar from the request of the approval), then run the active escalation rules
    for request approvals as each one's period after the reminder runs out. The reminder is an
    alert of the SLA engine and each firing an escalation of it, each recorded once under a
    unique key (a re-run or a second worker records nothing more); each is an event on the item.
    ``next_alert_at`` becomes the next rule's time, or null when none is left."""
    chased = Chased()
    stage, item = approval.stage, approval.item
    if approval.state != ApprovalState.pending or not stage.reminder_minutes:
        approval.next_alert_at = None
        session.flush()
        return chased
    reminder_at = due(approval.requested_at, stage.reminder_minutes)
    if reminder_at > now:
        approval.next_alert_at = reminder_at
        session.flush()
        return chased
    alert, recorded = sla_escalation.record_alert(
        session=session,
        record_type=RecordType.request_approval,
        record_id=approval.id,
        target_minutes=stage.reminder_minutes,
        occurred_at=reminder_at,
    )
    if recorded and approval.reminded_at is None:  # reminded before 0021: not again
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
                "reminder_minutes": stage.reminder_minutes,
                "due_at": reminder_at.isoformat(),
            },
            actor_label="sla",
        )
        chased.reminded = True
    later: list[datetime] = []
    rules = sla_escalation.active_rules(session=session, record_type=RecordType.request_approval)
    for rule in rules:
        fires_at = _rule_due(approval, rule, reminder_at, due)
        if fires_at > now:
            later.append(fires_at)
            continue
        escalation_id = sla_escalation.claim(
            session=session, rule=rule, alert=alert, timer=None, now=now
        )
        if escalation_id is not None:  # None: it fired for this approval already
            chased.escalations.append(_fire(session, approval, rule, alert, escalation_id, now))
    approval.next_alert_at = min(later) if later else None
    if not later:
        sla_escalation.mark_escalated(session=session, alert=alert, now=now)
    session.flush()
    return chased


def _fire(
    session: Session,
    approval: Approval,
    rule: SlaEscalationRule,
    alert: SlaAlert,
    escalation_id: int,
    now: datetime,
) -> Escalated:
    """Act on one claimed escalation, settle it, and log it on the item."""
    item, stage = approval.item, approval.stage
    requester_id = item.request.requester_id
    manager = reporting.manager_of(session=session, user=approval.approver)
    chosen = auth_service.get_user(session=session, user_id=rule.user_id) if rule.user_id else None
    notification = None
    if rule.action == EscalationAction.escalate:
        target = chosen or manager
        if target is None:
            outcome = "skipped", {"reason": "nobody to escalate to: the approver has no manager"}
        elif not target.is_active:
            outcome = "skipped", {"reason": f"{target.display_name} is no longer active"}
        elif target.id in (requester_id, approval.approver_id):
            outcome = "skipped", {"reason": f"{target.display_name} cannot decide on it"}
        else:
            approval.escalated_at = now
            approval.escalated_to_id = target.id
            notification = _notify(session, approval, rule, escalation_id, None, target.id, now)
            outcome = "done", {"user_id": target.id}
    else:
        team_id = rule.team_id
        user_id = chosen.id if chosen else (manager.id if manager and team_id is None else None)
        if team_id is None and user_id is None:
            outcome = "skipped", {"reason": "nobody to notify: no team or person on the rule"}
        else:
            notification = _notify(session, approval, rule, escalation_id, team_id, user_id, now)
            outcome = "done", {"team_id": team_id, "user_id": user_id}
    result, detail = sla_escalation.settle(
        session=session, escalation_id=escalation_id, rule=rule, alert=alert, outcome=outcome
    )
    target_id = detail.get("user_id")
    target = auth_service.get_user(session=session, user_id=target_id) if target_id else None
    record(
        session,
        item,
        EventKind.approval_escalated,
        None,
        now,
        field="approval",
        old=approval.approver.display_name,
        new=target.display_name if target is not None else None,
        data={
            "approval_id": approval.id,
            "approver_id": approval.approver_id,
            "stage": stage.position,
            "rule_id": rule.id,
            "rule": rule.name,
            "action": rule.action,
            "outcome": result,
            "escalation_id": escalation_id,
            "escalated_to_id": target_id if rule.action == EscalationAction.escalate else None,
            "manager_id": manager.id if manager else None,
            "team_id": detail.get("team_id"),
            "reason": detail.get("reason"),
        },
        actor_label="sla",
    )
    return Escalated(action=rule.action, outcome=result, notification=notification)


def _notify(
    session: Session,
    approval: Approval,
    rule: SlaEscalationRule,
    escalation_id: int,
    team_id: int | None,
    user_id: int | None,
    now: datetime,
) -> SlaNotification:
    item = approval.item
    since = f"{approval.requested_at:%Y-%m-%d %H:%M %Z}"
    waiting = f"{item.number} ({item.item_name}) waits for {approval.approver.display_name}"
    if rule.action == EscalationAction.escalate:
        subject = f"{item.number}: an approval is escalated to you"
        body = f"{waiting}'s approval since {since}: you may decide."
    else:
        subject = f"{item.number}: an approval is overdue"
        body = f"{waiting}'s approval since {since}."
    return sla_escalation.add_notification(
        session=session,
        escalation_id=escalation_id,
        record_type=RecordType.request_approval,
        record_id=approval.id,
        team_id=team_id,
        user_id=user_id,
        subject=subject,
        body=f"{body} Rule: {rule.name}.",
        now=now,
    )


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
