"""The incident's side of links that domains above it make: the problem behind an incident
(``problem_id``) and the knowledge articles used on it. Those domains' flows call these
functions; each records its change in the incident's event log, as ``mark_caused_by_change``
does for changes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.core.errors import UnprocessableEntity
from operational.core.pagination import Page, PageParams, paginate
from operational.events import service as events
from operational.events.enums import EntityType, EventKind
from operational.incidents.enums import HoldReason, IncidentState
from operational.incidents.models import Incident
from operational.incidents.recording import finish, now_or, record
from operational.incidents.service import DEFAULT_SORT, SORTABLE


def _locked(session: Session, incident_id: int) -> Incident:
    incident = session.scalar(
        select(Incident).where(Incident.id == incident_id).with_for_update(of=Incident)
    )
    if incident is None:
        raise UnprocessableEntity(f"There is no incident {incident_id}", incident_id=incident_id)
    session.refresh(incident)
    return incident


# -------------------------------------------------------------------------------- problems


def link_problem(
    *,
    session: Session,
    incident_id: int,
    problem_id: int,
    problem_number: str,
    number_of: Callable[[int], str],
    actor: User | None,
    now: datetime | None = None,
) -> tuple[Incident, int | None]:
    """Point the incident at the problem. Returns the incident and the id of the problem it
    pointed at before (the same problem again changes nothing). ``number_of`` names a problem
    by its id, for the event: the incident domain does not read problems."""
    incident = _locked(session, incident_id)
    if incident.problem_id == problem_id:
        return incident, problem_id
    now = now_or(now)
    old_id = incident.problem_id
    old_number = number_of(old_id) if old_id is not None else None
    incident.problem_id = problem_id
    record(
        session,
        incident,
        EventKind.field_changed,
        actor,
        now,
        field="problem",
        old=old_number,
        new=problem_number,
        data={"problem_id": problem_id, "old_problem_id": old_id},
    )
    finish(session, incident, now)
    return incident, old_id


def unlink_problem(
    *,
    session: Session,
    incident_id: int,
    problem_id: int,
    problem_number: str,
    actor: User | None,
    now: datetime | None = None,
) -> Incident:
    """Take the incident off the problem; 422 when it is not linked to it."""
    incident = _locked(session, incident_id)
    if incident.problem_id != problem_id:
        raise UnprocessableEntity(
            f"{incident.number} is not linked to {problem_number}", incident_id=incident_id
        )
    now = now_or(now)
    incident.problem_id = None
    record(
        session,
        incident,
        EventKind.field_changed,
        actor,
        now,
        field="problem",
        old=problem_number,
        new=None,
        data={"old_problem_id": problem_id},
    )
    finish(session, incident, now)
    return incident


def waits_for_problem(incident: Incident, problem_id: int) -> bool:
    return (
        incident.problem_id == problem_id
        and incident.state == IncidentState.on_hold
        and incident.hold_reason == HoldReason.awaiting_problem
    )


def waiting_for(*, session: Session, problem_id: int) -> list[Incident]:
    """The incidents on hold waiting for the problem, oldest first."""
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.problem_id == problem_id,
                Incident.state == IncidentState.on_hold,
                Incident.hold_reason == HoldReason.awaiting_problem,
            )
            .order_by(Incident.opened_at, Incident.id)
        ).all()
    )


def linked_to(
    *, session: Session, problem_id: int, params: PageParams, state: list[str] | None = None
) -> Page[Any]:  # of Incident
    statement = select(Incident).where(Incident.problem_id == problem_id)
    if state:
        statement = statement.where(Incident.state.in_(state))
    return paginate(session, statement, params, sortable=SORTABLE, default_sort=DEFAULT_SORT)


def linked_counts(*, session: Session, problem_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(linked, still open) incidents per problem."""
    open_states = [state.value for state in (IncidentState.resolved, IncidentState.closed)]
    rows = session.execute(
        select(
            Incident.problem_id,
            func.count(),
            func.count().filter(
                Incident.state.not_in([*open_states, IncidentState.cancelled.value])
            ),
        )
        .where(Incident.problem_id.in_(problem_ids))
        .group_by(Incident.problem_id)
    )
    return {problem_id: (linked, still_open) for problem_id, linked, still_open in rows}


def note_problem_resolved(
    *,
    session: Session,
    incident: Incident,
    problem_id: int,
    problem_number: str,
    fix_notes: str | None,
    actor: User | None,
    now: datetime | None = None,
) -> None:
    """Record, on an incident that waits for the problem, that its requester and assignee are
    to be told the problem is resolved. Until a notifications domain delivers them, the
    ``notified`` event is the notification (docs/problems.md)."""
    record(
        session,
        incident,
        EventKind.notified,
        actor,
        now_or(now),
        new=problem_number,
        data={
            "reason": "problem_resolved",
            "problem_id": problem_id,
            "recipients": [
                user_id for user_id in (incident.requester_id, incident.assignee_id) if user_id
            ],
            "fix_notes": fix_notes,
        },
    )


# --------------------------------------------------------------------- candidates for problems


@dataclass(frozen=True)
class RecurringGroup:
    dimension: str  # ci, service or category
    key: str  # the shared value (of the spellings, the first in sort order)
    count: int
    first_opened_at: datetime
    last_opened_at: datetime
    incident_ids: list[int]  # most recent first


_DIMENSIONS = {
    "ci": Incident.configuration_item,
    "service": Incident.service,
    "category": Incident.category,
}


def recurring_groups(
    *,
    session: Session,
    dimension: str,
    since: datetime,
    min_incidents: int,
    limit: int,
) -> list[RecurringGroup]:
    """Incidents opened since ``since``, not cancelled and linked to no problem, grouped by the
    same CI, service or category (case-insensitively); groups of at least ``min_incidents``,
    largest and most recent first."""
    column = _DIMENSIONS[dimension]
    key = func.lower(func.btrim(column))
    statement: Select[Any] = (
        select(
            func.min(column),
            func.count(),
            func.min(Incident.opened_at),
            func.max(Incident.opened_at),
            func.array_agg(aggregate_order_by(Incident.id, Incident.opened_at.desc(), Incident.id)),
        )
        .where(
            Incident.opened_at >= since,
            Incident.problem_id.is_(None),
            Incident.state != IncidentState.cancelled,
            key.is_not(None),
            key != "",
        )
        .group_by(key)
        .having(func.count() >= min_incidents)
        .order_by(func.count().desc(), func.max(Incident.opened_at).desc(), key)
        .limit(limit)
    )
    return [
        RecurringGroup(dimension, label, count, first, last, list(ids))
        for label, count, first, last, ids in session.execute(statement)
    ]


def briefs(*, session: Session, incident_ids: list[int]) -> dict[int, Incident]:
    return {
        incident.id: incident
        for incident in session.scalars(select(Incident).where(Incident.id.in_(incident_ids)))
    }


# ----------------------------------------------------------------------- knowledge articles


def note_article_used(
    *,
    session: Session,
    incident_id: int,
    article_id: int,
    article_number: str,
    resolved: bool,
    actor: User | None,
    now: datetime | None = None,
) -> Incident:
    """Record on the incident that a knowledge article helped with it."""
    incident = _locked(session, incident_id)
    record(
        session,
        incident,
        EventKind.article_used,
        actor,
        now_or(now),
        field="knowledge_article",
        new=article_number,
        data={"article_id": article_id, "resolved": resolved},
    )
    return incident


def note_articles_used_many(*, session: Session, uses: list[dict[str, Any]]) -> int:
    """The incidents' side of uses recorded in bulk (an import, the demo): each a mapping of
    incident_id, article_id, article_number, resolved, used_at, used_by_id and actor_label."""
    return events.append_many(
        session=session,
        events=[
            {
                "entity_type": EntityType.incident,
                "entity_id": use["incident_id"],
                "kind": EventKind.article_used,
                "occurred_at": use["used_at"],
                "actor_id": use.get("used_by_id"),
                "actor_label": use.get("actor_label") or "import",
                "field": "knowledge_article",
                "new_value": use["article_number"],
                "data": {"article_id": use["article_id"], "resolved": use["resolved"]},
            }
            for use in uses
        ],
    )
