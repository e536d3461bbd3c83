"""The change advisory board (CAB): who may decide, the rounds, the decisions and the rules
that settle them.

The workflow (service.py) opens a round when a change enters authorize, and for an emergency
change again when it enters review (the retrospective); the round copies its type's rule, so
editing a rule never changes a vote in progress.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, and_, false, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.changes import records
from operational.changes.enums import (
    ApprovalRule,
    ApprovalStage,
    CabOutcome,
    ChangeState,
    ChangeType,
    Decision,
)
from operational.changes.exceptions import (
    AlreadyDecided,
    CabRuleNotFound,
    NothingToDecide,
    SelfApproval,
)
from operational.changes.models import CabRule, Change, ChangeApproval
from operational.changes.schemas import CabRuleUpdate, DecisionCreate
from operational.events.enums import EntityType, EventKind

APPROVE_PERMISSION = "change:approve"


def approver_roles() -> list[str]:
    return auth_service.roles_with_permission(permission=APPROVE_PERMISSION)


class Involved(Protocol):
    requester_id: int | None
    raised_by_id: int | None
    implementer_id: int | None


def conflicted_ids(change: Involved) -> set[int]:
    """Who may not decide on ``change``: whoever raised it, its requester and its implementer
    (separation of duties: nobody approves their own work)."""
    people = (change.requester_id, change.raised_by_id, change.implementer_id)
    return {person for person in people if person is not None}


def eligible_approver_ids(*, session: Session, change: Change) -> set[int]:
    """Active users whose role grants change:approve, those involved in the change excluded."""
    return auth_service.active_user_ids_with_permission(
        session=session,
        permission=APPROVE_PERMISSION,
        exclude_ids=tuple(sorted(conflicted_ids(change))),
    )


def awaiting_decision_of(user: User) -> ColumnElement[bool]:
    """Changes whose open CAB round waits for ``user``: they may decide (change:approve, not
    involved in the change) and have not decided in this round yet. What decide() accepts."""
    if not has_permission(user, APPROVE_PERMISSION):
        return false()
    decided = (
        select(ChangeApproval.id)
        .where(
            ChangeApproval.change_id == Change.id,
            ChangeApproval.round == Change.cab_round,
            ChangeApproval.approver_id == user.id,
        )
        .exists()
    )
    involved = [
        column.is_distinct_from(user.id)
        for column in (Change.requester_id, Change.raised_by_id, Change.implementer_id)
    ]
    return and_(
        Change.cab_outcome == CabOutcome.pending.value,
        Change.state.in_([ChangeState.authorize.value, ChangeState.review.value]),
        *involved,
        ~decided,
    )


@dataclass(frozen=True)
class Tally:
    approvals: int
    rejections: int
    undecided: int
    outcome: CabOutcome


def tally(*, rule: str, quorum: int | None, decisions: Sequence[str], pool_size: int) -> Tally:
    """The outcome of a round: approved once the rule is met, rejected once it can no longer
    be met, otherwise pending. ``pool_size`` counts everyone who may decide in the round."""
    approvals = sum(1 for decision in decisions if decision == Decision.approved)
    rejections = sum(1 for decision in decisions if decision == Decision.rejected)
    undecided = max(pool_size - approvals - rejections, 0)
    needed = {
        ApprovalRule.all: approvals + rejections + undecided,
        ApprovalRule.quorum: quorum or 1,
        ApprovalRule.any: 1,
    }[ApprovalRule(rule)]
    if approvals >= needed:
        outcome = CabOutcome.approved
    elif approvals + undecided < needed:
        outcome = CabOutcome.rejected
    else:
        outcome = CabOutcome.pending
    return Tally(approvals, rejections, undecided, outcome)


def _cab_rule(session: Session, change_type: str) -> CabRule:
    rule = session.get(CabRule, change_type)
    if rule is None:
        raise CabRuleNotFound(f"No CAB rule for {change_type} changes")
    return rule


def list_cab_rules(*, session: Session) -> Sequence[CabRule]:
    return session.scalars(select(CabRule).order_by(CabRule.change_type)).all()


def update_cab_rule(
    *, session: Session, change_type: str, data: CabRuleUpdate, actor: User | None = None
) -> CabRule:
    rule = _cab_rule(session, change_type)
    before = records.snapshot(rule)
    rule.rule = data.rule.value
    rule.quorum = data.quorum
    rule.updated_at = records.now()
    session.flush()
    records.record_config(
        session=session,
        entity_type=EntityType.cab_rule,
        entity_id=records.CAB_RULE_IDS[change_type],
        label=change_type,
        actor=actor,
        before=before,
        after=records.snapshot(rule),
    )
    return rule


def open_round(*, session: Session, change: Change, stage: ApprovalStage, actor: User) -> None:
    """Start the next round: the CAB decides afresh under the rule of the change's type."""
    rule_type = ChangeType.emergency if change.change_type == ChangeType.emergency else "normal"
    rule = _cab_rule(session, str(rule_type))
    change.cab_round += 1
    change.cab_stage = stage.value
    change.cab_rule = rule.rule
    change.cab_quorum = rule.quorum
    change.cab_outcome = CabOutcome.pending.value
    records.append_event(
        session,
        change,
        EventKind.field_changed,
        actor,
        field="cab_outcome",
        new=CabOutcome.pending.value,
        data={
            "stage": stage.value,
            "round": change.cab_round,
            "rule": rule.rule,
            "quorum": rule.quorum,
        },
    )


def decide(*, session: Session, change_id: int, data: DecisionCreate, actor: User) -> Change:
    """Record one CAB member's decision and settle the round when the rule says so."""
    change = records.get(session=session, change_id=change_id, for_update=True)
    if change.cab_outcome != CabOutcome.pending or change.state not in (
        ChangeState.authorize,
        ChangeState.review,
    ):
        raise NothingToDecide(
            f"{change.number} is {change.state} and not waiting for the CAB",
            state=change.state,
            cab_outcome=change.cab_outcome,
        )
    if actor.id in conflicted_ids(change):
        role = next(
            name
            for name, person in (
                ("raised", change.raised_by_id),
                ("requested", change.requester_id),
                ("are implementing", change.implementer_id),
            )
            if person == actor.id
        )
        raise SelfApproval(
            f"You {role} {change.number}; another CAB member must decide on it",
            change_id=change.id,
        )
    this_round = [approval for approval in change.approvals if approval.round == change.cab_round]
    if any(approval.approver_id == actor.id for approval in this_round):
        raise AlreadyDecided(
            f"You have already decided on {change.number} in round {change.cab_round}"
        )
    decided_at = records.now()
    approval = ChangeApproval(
        change_id=change.id,
        stage=change.cab_stage,
        round=change.cab_round,
        approver_id=actor.id,
        approver=actor,
        decision=data.decision.value,
        comment=data.comment,
        decided_at=decided_at,
    )
    change.approvals.append(approval)
    session.flush()
    this_round.append(approval)
    pool = eligible_approver_ids(session=session, change=change) | {
        item.approver_id for item in this_round
    }
    result = tally(
        rule=change.cab_rule,
        quorum=change.cab_quorum,
        decisions=[item.decision for item in this_round],
        pool_size=len(pool),
    )
    records.append_event(
        session,
        change,
        EventKind.approval_decided,
        actor,
        field="approval",
        new=data.decision.value,
        data={
            "approval_id": approval.id,
            "decision": data.decision.value,
            "comment": data.comment,
            "stage": change.cab_stage,
            "round": change.cab_round,
            "rule": change.cab_rule,
            "quorum": change.cab_quorum,
            "approvals": result.approvals,
            "rejections": result.rejections,
            "undecided": result.undecided,
            "outcome": result.outcome.value,
        },
        occurred_at=decided_at,
    )
    if result.outcome != CabOutcome.pending:
        change.cab_outcome = result.outcome.value
        records.touch(change)
        records.append_event(
            session,
            change,
            EventKind.field_changed,
            actor,
            field="cab_outcome",
            old=CabOutcome.pending.value,
            new=result.outcome.value,
            data={"stage": change.cab_stage, "round": change.cab_round},
        )
    session.flush()
    return change
