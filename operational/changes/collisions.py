"""Collisions on the change calendar: what a change's planned window overlaps.

A window collides with blackout occurrences (blackout windows expanded from their recurrence)
and with other scheduled changes on related CIs. Scheduling (service.transition and
schedule_over_conflicts) checks under an advisory lock; GET /changes/{id}/conflicts shows the
same list without taking it.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from operational.changes import recurrence
from operational.changes.enums import CHANGE_IMPACT_DEPTH, SCHEDULED_STATES
from operational.changes.models import BlackoutWindow, Change
from operational.cmdb import service as cmdb_service
from operational.cmdb.enums import ImpactDirection


def lock_and_find_conflicts(*, session: Session, change: Change) -> list[dict[str, Any]]:
    """find_conflicts under a lock held until the transaction ends: scheduling is serialized,
    so two changes cannot both pass the check and then collide."""
    session.execute(text("select pg_advisory_xact_lock(hashtext('changes:schedule'))"))
    return find_conflicts(session=session, change=change)


def blackout_occurrences(
    *,
    session: Session,
    starts_at: datetime,
    ends_at: datetime,
    environments: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Occurrences of active blackout windows overlapping [starts_at, ends_at). With
    ``environments``, windows limited to another environment are left out."""
    found = []
    for window in session.scalars(
        select(BlackoutWindow)
        .where(BlackoutWindow.is_active)
        .order_by(BlackoutWindow.starts_at, BlackoutWindow.id)
    ):
        if (
            environments is not None
            and window.environment is not None
            and window.environment not in environments
        ):
            continue
        if window.rrule is None and not (window.starts_at < ends_at and window.ends_at > starts_at):
            continue
        for occurrence in recurrence.occurrences(
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            timezone=window.timezone,
            rule=window.rrule,
            window_start=starts_at,
            window_end=ends_at,
        ):
            found.append(
                {
                    "window_id": window.id,
                    "name": window.name,
                    "starts_at": occurrence.starts_at,
                    "ends_at": occurrence.ends_at,
                    "environment": window.environment,
                }
            )
    return sorted(found, key=lambda item: (item["starts_at"], item["window_id"]))


def find_conflicts(*, session: Session, change: Change) -> list[dict[str, Any]]:
    """Blackout occurrences and scheduled changes that overlap the change's planned window.

    Another change conflicts when it touches one of this change's CIs, a CI that relies on them
    (downstream) or a CI they rely on (upstream): either way one change can break the other.
    """
    start, end = change.planned_start, change.planned_end
    if start is None or end is None:
        return []
    conflicts: list[dict[str, Any]] = []
    environments = {link.ci.environment for link in change.ci_links}
    for occurrence in blackout_occurrences(
        session=session, starts_at=start, ends_at=end, environments=environments
    ):
        conflicts.append(
            {
                "kind": "blackout",
                **occurrence,
                "starts_at": occurrence["starts_at"].isoformat(),
                "ends_at": occurrence["ends_at"].isoformat(),
            }
        )

    overlapping = session.scalars(
        select(Change)
        .where(
            Change.id != change.id,
            Change.state.in_([state.value for state in SCHEDULED_STATES]),
            Change.planned_start < end,
            Change.planned_end > start,
        )
        .order_by(Change.planned_start, Change.id)
    ).all()
    if overlapping and change.ci_ids:
        zone = {ci_id: "same_ci" for ci_id in change.ci_ids}
        for direction in (ImpactDirection.downstream, ImpactDirection.upstream):
            for ci_id in cmdb_service.impact_depths(
                session=session,
                ci_ids=change.ci_ids,
                direction=direction,
                depth=CHANGE_IMPACT_DEPTH,
            ):
                zone.setdefault(ci_id, direction.value)
        for other in overlapping:
            shared = [
                {"ci_id": link.ci_id, "name": link.ci.name, "relation": zone[link.ci_id]}
                for link in other.ci_links
                if link.ci_id in zone
            ]
            if shared:
                conflicts.append(
                    {
                        "kind": "change",
                        "change_id": other.id,
                        "number": other.number,
                        "title": other.title,
                        "state": other.state,
                        "starts_at": other.planned_start.isoformat(),
                        "ends_at": other.planned_end.isoformat(),
                        "cis": shared,
                    }
                )
    return conflicts
