"""Fulfilment tasks: created from the item's plan (at the version ordered) when its approvals
end, one per team, opened in order or all at once, and assigned within their team by the team's
own strategy (round robin or least loaded, as incidents are)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.core.concurrency import check_version
from operational.core.errors import Conflict, UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events.enums import EventKind
from operational.incidents import assignment as incident_assignment
from operational.requests import workflow
from operational.requests.enums import FINISHED_TASK_STATES, PlanMode, TaskState
from operational.requests.models import RequestItem, RequestTask, request_task_number_seq
from operational.requests.recording import by_reference, finish, lock, now_or, record, set_state
from operational.requests.schemas import TaskFilters, TaskUpdate

NUMBER_PREFIX = "SCTASK"
TASK_SORTABLE = {
    "number": RequestTask.number,
    "state": RequestTask.state,
    "opened_at": RequestTask.opened_at,
    "closed_at": RequestTask.closed_at,
    "updated_at": RequestTask.updated_at,
}


@dataclass(frozen=True)
class TaskApplied:
    changed: bool
    finished: bool = False  # the task closed or was cancelled by this update


def _number(session: Session) -> str:
    while True:
        number = (
            f"{NUMBER_PREFIX}{session.scalar(select(request_task_number_seq.next_value())):07d}"
        )
        if not session.scalar(select(exists().where(RequestTask.number == number))):
            return number


def _assign(session: Session, task: RequestTask, actor: User | None, now: datetime) -> None:
    """Give an opened task to a member of its group, by the team's strategy."""
    if task.assignee_id is not None or task.assignment_group_id is None:
        return
    team = auth_service.get_team(session=session, team_id=task.assignment_group_id)
    member = incident_assignment.pick_member(session=session, team=team) if team else None
    if member is None:
        return
    task.assignee_id = member.id
    auth_service.note_assignment(session=session, team_id=team.id, user_id=member.id, now=now)
    record(
        session,
        task,
        EventKind.assigned,
        actor,
        now,
        field="assignee",
        new=member.display_name,
        data={"assignee_id": member.id, "picked_by": team.assignment_strategy},
    )


def _open(session: Session, task: RequestTask, actor: User | None, now: datetime) -> None:
    set_state(session, task, actor, now, TaskState.open.value)
    task.opened_at = now
    _assign(session, task, actor, now)


def create_tasks(
    *, session: Session, item: RequestItem, plan: dict[str, Any], now: datetime
) -> list[RequestTask]:
    """The plan's tasks (none: one for the item's team); the first, or all when parallel, open
    and assigned at once."""
    tasks = plan.get("tasks") or [{"name": f"Fulfil {item.item_name}", "team_id": None}]
    parallel = plan.get("mode") == PlanMode.parallel
    created = []
    for position, spec in enumerate(tasks, start=1):
        task = RequestTask(
            number=_number(session),
            request_item_id=item.id,
            position=position,
            name=spec["name"],
            description=spec.get("description"),
            assignment_group_id=spec.get("team_id") or item.fulfilment_team_id,
            state=TaskState.pending.value,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        session.flush()
        record(
            session,
            task,
            EventKind.created,
            None,
            now,
            new=task.number,
            data={
                "request_item": item.number,
                "name": task.name,
                "team_id": task.assignment_group_id,
            },
        )
        if parallel or position == 1:
            _open(session, task, None, now)
        created.append(task)
    session.flush()
    return created


def tasks_of(*, session: Session, item_id: int) -> list[RequestTask]:
    return list(
        session.scalars(
            select(RequestTask)
            .where(RequestTask.request_item_id == item_id)
            .order_by(RequestTask.position)
        ).unique()
    )


def open_next(*, session: Session, item: RequestItem, now: datetime) -> str | None:
    """After a task finished: open the next pending one (in order), or say how the item's
    fulfilment ended: ``delivered`` (a task was closed) or ``cancelled`` (every task was)."""
    tasks = tasks_of(session=session, item_id=item.id)
    if any(
        task.state not in FINISHED_TASK_STATES for task in tasks if task.state != TaskState.pending
    ):
        return None
    pending = [task for task in tasks if task.state == TaskState.pending]
    if pending:
        _open(session, pending[0], None, now)
        finish(session, pending[0], now)
        return None
    if any(task.state == TaskState.closed for task in tasks):
        return "delivered"
    return "cancelled"


def cancel_open(
    *, session: Session, item: RequestItem, actor: User | None, now: datetime, reason: str
) -> None:
    for task in tasks_of(session=session, item_id=item.id):
        if task.state not in FINISHED_TASK_STATES:
            set_state(session, task, actor, now, TaskState.cancelled.value, data={"reason": reason})
            task.closed_at = now
            finish(session, task, now)


def update(
    *,
    session: Session,
    task: RequestTask,
    data: TaskUpdate,
    actor: User,
    expected_version: int | None,
    now: datetime | None = None,
) -> TaskApplied:
    now = now_or(now)
    lock(session, task)
    check_version(current=task.version, expected=expected_version, what=task.number)
    fields = data.model_fields_set - {"version"}
    if not fields:
        return TaskApplied(changed=False)
    if task.state in FINISHED_TASK_STATES:
        raise Conflict(
            f"{task.number} is {task.state}; it can no longer be changed", state=task.state
        )
    changed = False
    if "assignment_group_id" in fields and data.assignment_group_id != task.assignment_group_id:
        if (
            data.assignment_group_id is None
            or auth_service.get_team(session=session, team_id=data.assignment_group_id) is None
        ):
            raise UnprocessableEntity(
                "assignment_group_id names no team", field="assignment_group_id"
            )
        record(
            session,
            task,
            EventKind.assigned,
            actor,
            now,
            field="assignment_group",
            old=task.assignment_group_id,
            new=data.assignment_group_id,
        )
        task.assignment_group_id = data.assignment_group_id
        if "assignee_id" not in fields:
            task.assignee_id = None
            if task.state != TaskState.pending:
                _assign(session, task, actor, now)
        changed = True
    if "assignee_id" in fields and data.assignee_id != task.assignee_id:
        if (
            data.assignee_id is not None
            and task.assignment_group_id is not None
            and not auth_service.is_member(
                session=session, team_id=task.assignment_group_id, user_id=data.assignee_id
            )
        ):
            raise UnprocessableEntity(
                f"User {data.assignee_id} is not a member of the task's group",
                field="assignee_id",
            )
        assignee = (
            auth_service.get_user(session=session, user_id=data.assignee_id)
            if data.assignee_id
            else None
        )
        record(
            session,
            task,
            EventKind.assigned,
            actor,
            now,
            field="assignee",
            old=task.assignee_id,
            new=assignee.display_name if assignee else None,
            data={"assignee_id": data.assignee_id},
        )
        task.assignee_id = data.assignee_id
        changed = True
    if "close_notes" in fields and data.close_notes != task.close_notes:
        record(
            session,
            task,
            EventKind.field_changed,
            actor,
            now,
            field="close_notes",
            old=task.close_notes,
            new=data.close_notes,
        )
        task.close_notes = data.close_notes
        changed = True
    finished = False
    if "state" in fields and data.state is not None and data.state != task.state:
        workflow.check(workflow.TASK_MOVES, task.state, data.state)
        if data.state == TaskState.closed and not (task.close_notes and task.close_notes.strip()):
            raise UnprocessableEntity("Closing a task needs close_notes", field="close_notes")
        set_state(session, task, actor, now, data.state.value)
        if data.state in FINISHED_TASK_STATES:
            task.closed_at = now
            finished = True
        changed = True
    if changed:
        finish(session, task, now)
    return TaskApplied(changed=changed, finished=finished)


# ------------------------------------------------------------------------------------ lists


def get_by_reference(*, session: Session, reference: str) -> RequestTask:
    return by_reference(session, RequestTask, reference, "Task")


def search(*, session: Session, filters: TaskFilters, params: PageParams) -> Page[Any]:
    statement: Select[Any] = select(RequestTask)
    if filters.state:
        statement = statement.where(RequestTask.state.in_([state.value for state in filters.state]))
    for column, value in (
        (RequestTask.assignment_group_id, filters.assignment_group_id),
        (RequestTask.assignee_id, filters.assignee_id),
        (RequestTask.request_item_id, filters.request_item_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.q and filters.q.strip():
        text = filters.q.strip()
        statement = statement.where(
            or_(
                RequestTask.number.icontains(text, autoescape=True),
                RequestTask.name.icontains(text, autoescape=True),
            )
        )
    return paginate(
        session,
        statement,
        params,
        sortable=TASK_SORTABLE,
        default_sort=[RequestTask.created_at.desc(), RequestTask.id.desc()],
    )
